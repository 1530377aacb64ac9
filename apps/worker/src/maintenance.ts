import { DAY_MS, HOUR_MS, type Logger, type WorkerConfig } from "@usage/core";
import {
  type Db,
  deleteOldExports,
  dropExpiredHitPartitions,
  EXPORT_ROW_TTL_DAYS,
  type ExportFiles,
  ensureIngestPartitions,
  failExportRun,
  pruneHourlyRollups,
  unfinishedExportsBefore,
} from "@usage/db";
import {
  type Counters,
  isMaintenanceJobName,
  isMaintenancePayload,
  MAINTENANCE_JOB_NAMES,
  type MaintenanceJobName,
  type MaintenancePayload,
  type MaintenanceQueue,
} from "@usage/store";
import { type Job, UnrecoverableError } from "bullmq";
import { GENERIC_FAILURE } from "./exports/export-worker.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { reconcile } from "./reconcile.ts";

/** How often each job runs; a record by name, so a declared job without a schedule does not compile. */
const EVERY_MS: Record<MaintenanceJobName, number> = {
  "ensure-partitions": HOUR_MS,
  "drop-expired": 6 * HOUR_MS,
  reconcile: 60_000,
  "expire-exports": 15 * 60_000,
};

/**
 * Job schedulers live in Redis, so however many workers run, each tick produces one job
 * that exactly one worker takes.
 */
export const scheduleMaintenance = async (queue: MaintenanceQueue): Promise<void> => {
  for (const name of MAINTENANCE_JOB_NAMES) await queue.upsertJobScheduler(name, { every: EVERY_MS[name] }, { name });
};

/** How old a queued or running export must be before a missing or failed job fails it. */
const ABANDONED_AFTER_MS = 60_000;

export interface MaintenanceDeps {
  db: Db;
  exportStore: ExportFiles;
  /** The state of an export's job on the export queue (its id is the export's); "unknown" when there is none. */
  exportJobState(exportId: string): Promise<string>;
  counters: Counters;
  config: WorkerConfig;
  metrics: WorkerMetrics;
  log: Logger;
}

type Handlers = { [N in MaintenanceJobName]: (data: MaintenancePayload<N>, log: Logger) => Promise<unknown> };

export const createMaintenanceProcessor = ({ db, exportStore, exportJobState, counters, config, metrics, log }: MaintenanceDeps) => {
  const handlers: Handlers = {
    "ensure-partitions": async (_data, jobLog) => {
      const created = await ensureIngestPartitions(db, config.maxEventAgeDays);
      if (created.length > 0) jobLog.info({ created }, "hit partitions created");
      return { created };
    },
    "drop-expired": async (_data, jobLog) => {
      const now = Date.now();
      const dropped = await dropExpiredHitPartitions(db, now - config.retentionDays * DAY_MS);
      // The top list reads 25 hours; an hour of margin, so the fallback query scans no dead weight.
      const pruned = await pruneHourlyRollups(db, now - 26 * HOUR_MS);
      if (dropped.length > 0) jobLog.info({ dropped, pruned }, "expired hit partitions dropped");
      return { dropped, pruned };
    },
    reconcile: (_data, jobLog) => reconcile(db, counters, metrics, jobLog),
    // Files go 24 h after completion (their rows stay, so a download answers 410); rows and
    // anything left with them after a week.
    // Also: an export whose job is gone for good (failed after too many stalls, or lost with
    // its Redis) would stay queued or running forever; it becomes failed, so its caller can
    // ask again. A minute's grace covers a create whose job is still being added.
    "expire-exports": async (_data, jobLog) => {
      const now = Date.now();
      let abandoned = 0;
      for (const exportId of await unfinishedExportsBefore(db, new Date(now - ABANDONED_AFTER_MS))) {
        const state = await exportJobState(exportId);
        if (state !== "failed" && state !== "unknown") continue;
        if (await failExportRun(db, exportId, GENERIC_FAILURE)) abandoned++;
        await exportStore.remove(exportId);
      }
      const expired = await exportStore.removeExpired(new Date(now));
      const deleted = await deleteOldExports(db, new Date(now - EXPORT_ROW_TTL_DAYS * DAY_MS));
      if (expired + deleted + abandoned > 0) jobLog.info({ expired, deleted, abandoned }, "expired exports removed");
      return { expired, deleted, abandoned };
    },
  };

  const run = <N extends MaintenanceJobName>(name: N, data: unknown, jobLog: Logger): Promise<unknown> => {
    // No retry fixes a payload its schema refuses: fail it at once, kept for inspection.
    if (!isMaintenancePayload(name, data)) throw new UnrecoverableError(`invalid ${name} payload`);
    return handlers[name](data, jobLog);
  };

  // Any name can arrive (an older or newer producer): an unknown one fails, it is not skipped.
  return async (job: Job<unknown, unknown, string>): Promise<unknown> => {
    if (!isMaintenanceJobName(job.name)) throw new UnrecoverableError(`unknown maintenance job "${job.name}"`);
    return run(job.name, job.data, log.child({ job: job.name, jobId: job.id }));
  };
};
