/** UTC calendar helpers. Days are `YYYY-MM-DD`, hours are epoch hours (ms / 3_600_000). */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export const epochHour = (ms: number): number => Math.floor(ms / HOUR_MS);

export const dayStartMs = (day: string): number => Date.parse(`${day}T00:00:00.000Z`);

/** The `count` UTC days ending with the day of `nowMs`, oldest first. */
export const lastDays = (nowMs: number, count: number): string[] => {
  const today = dayStartMs(utcDay(nowMs));
  return Array.from({ length: count }, (_, i) => utcDay(today - (count - 1 - i) * DAY_MS));
};
