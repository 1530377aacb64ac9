import type { Logger } from "@usage/core";
import type { Db, StoredHit } from "@usage/db";
import { type HitBatchJob, hitBatchValidator, type Keys, type Redis } from "@usage/store";
import { type Job, UnrecoverableError } from "bullmq";
import type { WorkerMetrics } from "./metrics.ts";
import { storeBatch } from "./store-batch.ts";

export interface HitProcessorDeps {
  db: Db;
  publisher: Redis;
  keys: Keys;
  metrics: WorkerMetrics;
  log: Logger;
}

const toStored = ([clientId, id, ts, receivedAt, ip, method, status, endpoint]: HitBatchJob["hits"][number]): StoredHit => ({
  clientId,
  id,
  ts,
  receivedAt,
  ip,
  method,
  status,
  endpoint,
});

/** Stores one job's hits, then tells every gateway which client-days changed. */
export const createHitProcessor =
  ({ db, publisher, keys, metrics, log }: HitProcessorDeps) =>
  async (job: Job<HitBatchJob>): Promise<{ inserted: number; rejected: number }> => {
    if (!hitBatchValidator.Check(job.data)) {
      // A payload no retry can fix: fail it for inspection instead of retrying it forever.
      throw new UnrecoverableError("invalid hit-batch payload");
    }
    const hits = job.data.hits.map(toStored);
    const started = performance.now();
    const jobLog = log.child({ jobId: job.id, hits: hits.length, attempt: job.attemptsMade + 1 });
    try {
      const outcome = await storeBatch(db, hits, jobLog);
      const now = Date.now();
      metrics.batchSeconds.observe({ result: "ok" }, (performance.now() - started) / 1000);
      metrics.hits.inc({ outcome: "inserted" }, outcome.inserted);
      metrics.hits.inc({ outcome: "duplicate" }, hits.length - outcome.inserted - outcome.rejected);
      metrics.hits.inc({ outcome: "rejected" }, outcome.rejected);
      for (const hit of hits) metrics.lagSeconds.observe(Math.max(0, now - hit.receivedAt) / 1000);
      if (outcome.deltas.length > 0) {
        const events = outcome.deltas.map((d) => ({ client_id: d.clientId, date: d.day, delta: d.delta, total_requests: d.total }));
        // At-most-once by nature: a lost message only delays a dashboard, never a count.
        await publisher
          .publish(keys.updatesChannel, JSON.stringify(events))
          .catch((error: unknown) => jobLog.warn({ err: error }, "publish failed"));
      }
      return { inserted: outcome.inserted, rejected: outcome.rejected };
    } catch (error) {
      metrics.batchSeconds.observe({ result: "error" }, (performance.now() - started) / 1000);
      jobLog.warn({ err: error }, "hit batch failed, will retry");
      throw error;
    }
  };
