import { HIT, type WireHit } from "@usage/contract";
import { GroupCommit, type Logger } from "@usage/core";
import { type Db, rejectHit } from "@usage/db";
import { type HitBatchJob, hitBatchValidator, type Keys, type Redis, wireHitValidator } from "@usage/store";
import { type Job, UnrecoverableError } from "bullmq";
import { createHitWriter } from "./hit-writer.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { storeBatch } from "./store-batch.ts";

export interface HitProcessorDeps {
  db: Db;
  publisher: Redis;
  keys: Keys;
  metrics: WorkerMetrics;
  log: Logger;
}

/** Hits per statement at most; a deep queue fills statements up to here. */
const MAX_HITS_PER_STATEMENT = 5_000;
/** Statements in flight per worker process (two cores of Postgres to keep busy). */
const STATEMENTS_IN_FLIGHT = 2;

/** One job's hits in a statement group; `mayExist` when some may be stored already. */
interface JobHits {
  hits: readonly WireHit[];
  mayExist: boolean;
}

/**
 * Consumes hit-batch jobs. The jobs active at once (WORKER_CONCURRENCY) share statements:
 * when the queue is deep, one INSERT carries several jobs' hits, and each job completes
 * only after the statement holding its hits committed (if it fails, they all retry).
 * After each commit, one change event per touched client-day goes to the gateways.
 */
export const createHitProcessor = ({ db, publisher, keys, metrics, log }: HitProcessorDeps) => {
  const insert = createHitWriter(db, () => metrics.duplicateFallbacks.inc());
  const statements = new GroupCommit<JobHits>({
    maxItems: MAX_HITS_PER_STATEMENT,
    weigh: (job) => job.hits.length,
    lingerMs: 0,
    maxInFlight: STATEMENTS_IN_FLIGHT,
    flush: async (jobs) => {
      const started = performance.now();
      const hits = jobs.length === 1 ? (jobs[0] as JobHits).hits : jobs.flatMap((job) => job.hits);
      const mayExist = jobs.some((job) => job.mayExist);
      try {
        const outcome = await storeBatch(db, (batch) => insert(batch, mayExist), hits, log);
        const now = Date.now();
        metrics.batchSeconds.observe({ result: "ok" }, (performance.now() - started) / 1000);
        metrics.hits.inc({ outcome: "inserted" }, outcome.inserted);
        metrics.hits.inc({ outcome: "duplicate" }, hits.length - outcome.inserted - outcome.rejected);
        metrics.hits.inc({ outcome: "rejected" }, outcome.rejected);
        // One sample per 202, not per hit: the hits of a request share their acceptance time,
        // and a quantile summary per hit cost a tenth of the worker's CPU.
        const accepted = new Set<number>();
        for (const hit of hits) accepted.add(hit[HIT.receivedAt]);
        for (const at of accepted) metrics.lagSeconds.observe(Math.max(0, now - at) / 1000);
        if (outcome.deltas.length > 0) {
          const events = outcome.deltas.map((d) => ({ client_id: d.clientId, date: d.day, delta: d.delta, total_requests: d.total }));
          // At-most-once by nature: a lost message only delays a dashboard, never a count.
          await publisher
            .publish(keys.updatesChannel, JSON.stringify(events))
            .catch((error: unknown) => log.warn({ err: error }, "publish failed"));
        }
      } catch (error) {
        metrics.batchSeconds.observe({ result: "error" }, (performance.now() - started) / 1000);
        log.warn({ err: error, hits: hits.length }, "hit statement failed, its jobs will retry");
        throw error;
      }
    },
  });

  return async (job: Job<HitBatchJob>): Promise<{ hits: number }> => {
    // A job run before (it failed, or its worker stalled or died after the commit) may find
    // its own hits stored.
    const ranBefore = job.attemptsMade > 0 || job.stalledCounter > 0;
    if (hitBatchValidator.Check(job.data)) {
      await statements.add([{ hits: job.data.hits, mayExist: job.data.mayExist === true || ranBefore }]);
      return { hits: job.data.hits.length };
    }
    const hits: unknown = (job.data as { hits?: unknown } | null)?.hits;
    if (!Array.isArray(hits)) {
      // A payload no retry can fix: fail it for inspection instead of retrying it forever.
      throw new UnrecoverableError("invalid hit-batch payload");
    }
    // One malformed hit must not cost the others of its job: set it aside, store the rest.
    const valid = hits.filter((hit): hit is WireHit => wireHitValidator.Check(hit));
    for (const hit of hits.filter((h) => !wireHitValidator.Check(h))) await rejectHit(db, hit, "invalid hit in job payload");
    log.error({ jobId: job.id, rejected: hits.length - valid.length }, "hits set aside from a malformed job");
    if (valid.length > 0) await statements.add([{ hits: valid, mayExist: true }]);
    return { hits: valid.length };
  };
};
