import { epochHour, HOUR_MS, type Logger, lastDays } from "@usage/core";
import { type Db, dailyRollupsSince, hourlyRollupsSince } from "@usage/db";
import { type Counters, DAILY_WINDOW_DAYS, TOP_WINDOW_HOURS } from "@usage/store";
import type { WorkerMetrics } from "./metrics.ts";

export interface ReconcileReport {
  checked: number;
  repairedDays: number;
  repairedHours: number;
  raisedBy: number;
}

/**
 * Compares the live Redis counters with the committed rollups over the read windows. A
 * counter below its rollup lost data (a Redis restart without AOF, or a hit taken back
 * after an enqueue that did land): it is raised to the rollup. A counter above its rollup
 * is normal while hits are in flight, so it is left for the next run.
 */
export const reconcile = async (
  db: Db,
  counters: Counters,
  metrics: WorkerMetrics,
  log: Logger,
  nowMs = Date.now(),
): Promise<ReconcileReport> => {
  const days = lastDays(nowMs, DAILY_WINDOW_DAYS);
  const report: ReconcileReport = { checked: 0, repairedDays: 0, repairedHours: 0, raisedBy: 0 };
  // Chunks of concurrent calls: the connection pipelines them, one round trip per chunk.
  const inChunks = async <T>(rows: T[], raise: (row: T) => Promise<number>, onRaise: () => void): Promise<void> => {
    for (let i = 0; i < rows.length; i += 500) {
      for (const raised of await Promise.all(rows.slice(i, i + 500).map(raise))) {
        report.checked++;
        if (raised > 0) {
          onRaise();
          report.raisedBy += raised;
        }
      }
    }
  };
  await inChunks(
    await dailyRollupsSince(db, days[0] as string),
    (row) => counters.raiseDay(row.clientId, row.day, row.total),
    () => report.repairedDays++,
  );
  const fromHour = epochHour(nowMs) - TOP_WINDOW_HOURS;
  await inChunks(
    await hourlyRollupsSince(db, fromHour * HOUR_MS),
    (row) => counters.raiseHour(row.clientId, epochHour(row.hour), row.total),
    () => report.repairedHours++,
  );
  metrics.drift.inc({ kind: "day" }, report.repairedDays);
  metrics.drift.inc({ kind: "hour" }, report.repairedHours);
  if (report.repairedDays + report.repairedHours > 0) log.warn(report, "reconciler repaired counters behind their rollups");
  else log.debug(report, "reconciler found no drift");
  return report;
};
