import { DAY_MS, HOUR_MS, type Logger, type WorkerConfig } from "@usage/core";
import { type Db, dropExpiredHitPartitions, ensureIngestPartitions, pruneHourlyRollups } from "@usage/db";
import { type Counters, JOBS } from "@usage/store";
import type { Job, Queue } from "bullmq";
import type { WorkerMetrics } from "./metrics.ts";
import { reconcile } from "./reconcile.ts";

/**
 * Job schedulers live in Redis, so however many workers run, each tick produces one job
 * that exactly one worker takes.
 */
export const scheduleMaintenance = async (queue: Queue): Promise<void> => {
  await queue.upsertJobScheduler(JOBS.ensurePartitions, { every: HOUR_MS }, { name: JOBS.ensurePartitions });
  await queue.upsertJobScheduler(JOBS.dropExpired, { every: 6 * HOUR_MS }, { name: JOBS.dropExpired });
  await queue.upsertJobScheduler(JOBS.reconcile, { every: 60_000 }, { name: JOBS.reconcile });
};

export interface MaintenanceDeps {
  db: Db;
  counters: Counters;
  config: WorkerConfig;
  metrics: WorkerMetrics;
  log: Logger;
}

export const createMaintenanceProcessor =
  ({ db, counters, config, metrics, log }: MaintenanceDeps) =>
  async (job: Job): Promise<unknown> => {
    const jobLog = log.child({ job: job.name, jobId: job.id });
    switch (job.name) {
      case JOBS.ensurePartitions: {
        const created = await ensureIngestPartitions(db, config.maxEventAgeDays);
        if (created.length > 0) jobLog.info({ created }, "hit partitions created");
        return { created };
      }
      case JOBS.dropExpired: {
        const now = Date.now();
        const dropped = await dropExpiredHitPartitions(db, now - config.retentionDays * DAY_MS);
        // The top list reads 25 hours; an hour of margin, so the fallback query scans no dead weight.
        const pruned = await pruneHourlyRollups(db, now - 26 * HOUR_MS);
        if (dropped.length > 0) jobLog.info({ dropped, pruned }, "expired hit partitions dropped");
        return { dropped, pruned };
      }
      case JOBS.reconcile:
        return reconcile(db, counters, metrics, jobLog);
      default:
        jobLog.warn("unknown maintenance job");
        return undefined;
    }
  };
