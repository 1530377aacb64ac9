/** Items grouped by a key, in the order each key was first seen. */
export const groupBy = <T, K>(items: readonly T[], keyOf: (item: T) => K): T[][] => {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return [...groups.values()];
};
