/** UTC calendar helpers. Days are `YYYY-MM-DD`, hours are epoch hours (ms / 3_600_000). */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

// Formatting a date is the costly part and the hot path asks for the same few days all the
// time: keep the strings of recent days.
const dayNames = new Map<number, string>();

export const utcDay = (ms: number): string => {
  const day = Math.floor(ms / DAY_MS);
  let name = dayNames.get(day);
  if (name === undefined) {
    if (dayNames.size > 4096) dayNames.clear();
    name = new Date(day * DAY_MS).toISOString().slice(0, 10);
    dayNames.set(day, name);
  }
  return name;
};

export const epochHour = (ms: number): number => Math.floor(ms / HOUR_MS);

export const dayStartMs = (day: string): number => Date.parse(`${day}T00:00:00.000Z`);

/** The `count` UTC days ending with the day of `nowMs`, oldest first. */
export const lastDays = (nowMs: number, count: number): string[] => {
  const today = Math.floor(nowMs / DAY_MS);
  return Array.from({ length: count }, (_, i) => utcDay((today - (count - 1 - i)) * DAY_MS));
};
