import { epochHour, HOUR_MS, lastDays } from "@usage/core";
import { type Db, dailyRollupsSince, hourlyRollupsSince } from "@usage/db";
import { type Counters, DAILY_WINDOW_DAYS, TOP_WINDOW_HOURS } from "@usage/store";
import { createProgress } from "./progress.ts";

export interface RaiseReport {
  days: number;
  hours: number;
  raisedBy: number;
}

/** Commands in flight at once: ioredis pipelines each batch into one round trip. */
const BATCH = 2_000;

/**
 * The worker's reconcile over the same read windows (the last 7 days of daily counters, the
 * last 25 hours of the top list), batched: lifts every live Redis counter to its rollup.
 */
export const raiseLiveCounters = async (db: Db, counters: Counters, nowMs: number): Promise<RaiseReport> => {
  const days = await dailyRollupsSince(db, lastDays(nowMs, DAILY_WINDOW_DAYS)[0] as string);
  const hours = await hourlyRollupsSince(db, (epochHour(nowMs) - TOP_WINDOW_HOURS) * HOUR_MS);
  const total = days.length + hours.length;
  const raise = (i: number): Promise<number> => {
    if (i < days.length) {
      const row = days[i] as (typeof days)[number];
      return counters.raiseDay(row.clientId, row.day, row.total);
    }
    const row = hours[i - days.length] as (typeof hours)[number];
    return counters.raiseHour(row.clientId, epochHour(row.hour), row.total);
  };
  const progress = createProgress({ label: "redis", total, unit: "counters", lineEveryMs: 2_000 });
  let raisedBy = 0;
  try {
    for (let start = 0; start < total; start += BATCH) {
      const end = Math.min(total, start + BATCH);
      const batch: Array<Promise<number>> = [];
      for (let i = start; i < end; i++) batch.push(raise(i));
      for (const raised of await Promise.all(batch)) raisedBy += raised;
      progress.advance(end - start);
    }
  } finally {
    progress.finish();
  }
  return { days: days.length, hours: hours.length, raisedBy };
};
