const integer = new Intl.NumberFormat("en-US");
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const weekday = new Intl.DateTimeFormat("en-US", { weekday: "short", day: "numeric", timeZone: "UTC" });
const longDay = new Intl.DateTimeFormat("en-US", { weekday: "long", month: "short", day: "numeric", timeZone: "UTC" });
const clock = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
const dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

export const count = (value: number): string => integer.format(value);
export const rate = (value: number): string => decimal.format(value);
/** `2026-12-03` → `Thu 3` (UTC days, as the API counts them). */
export const dayLabel = (date: string): string => weekday.format(new Date(`${date}T00:00:00Z`));
export const dayTitle = (date: string): string => longDay.format(new Date(`${date}T00:00:00Z`));
export const utcClock = (iso: string): string => `${clock.format(new Date(iso))} UTC`;
export const utcDateTime = (iso: string): string => `${dateTime.format(new Date(iso))} UTC`;
export const today = (now = Date.now()): string => new Date(now).toISOString().slice(0, 10);

/** "3 days", "5 min", "40 s": how long ago or how long until, coarse on purpose. */
export const span = (ms: number): string => {
  const seconds = Math.max(0, Math.round(Math.abs(ms) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} days`;
};

export const ago = (iso: string, now = Date.now()): string => `${span(now - Date.parse(iso))} ago`;
