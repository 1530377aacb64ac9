/** A client's total over a window of rank zsets. */
export interface RankRow {
  clientId: string;
  total: number;
}

/** The API's order, and Redis' for negated scores: total desc, then client_id asc (bytes; ids are ASCII). */
const precedes = (a: RankRow, b: RankRow): boolean => a.total > b.total || (a.total === b.total && a.clientId < b.clientId);

const mergeTwo = (a: readonly RankRow[], b: readonly RankRow[], count: number): RankRow[] => {
  const limit = count === 0 ? a.length + b.length : Math.min(count, a.length + b.length);
  const out: RankRow[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit) {
    const left = a[i];
    const right = b[j];
    if (right === undefined || (left !== undefined && precedes(left, right))) {
      out.push(left as RankRow);
      i++;
    } else {
      out.push(right);
      j++;
    }
  }
  return out;
};

/**
 * The first `count` rows (0: all) of lists each already in rank order, such as the top `count`
 * of each bucket. Exact: a client's whole total is in its own bucket, and the order is total
 * (ties broken by client_id), so the global top `count` is made of each bucket's top `count`
 * and nothing below it. Merged in pairs: O(rows · log lists).
 */
export const mergeRanked = (lists: ReadonlyArray<readonly RankRow[]>, count: number): RankRow[] => {
  let round = lists;
  while (round.length > 1) {
    const next: Array<readonly RankRow[]> = [];
    for (let i = 0; i < round.length; i += 2) {
      const [a, b] = [round[i] as readonly RankRow[], round[i + 1]];
      next.push(b === undefined ? a : mergeTwo(a, b, count));
    }
    round = next;
  }
  const [only = []] = round;
  return only.slice(0, count === 0 ? only.length : count);
};
