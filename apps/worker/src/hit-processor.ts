import type { WireHit } from "@usage/contract";
import { GroupCommit, type Logger } from "@usage/core";
import { type Db, rejectHit } from "@usage/db";
import { type HitBatchJob, hitBatchValidator, type Keys, type RedisConnection, wireHitValidator } from "@usage/store";
import { type Job, UnrecoverableError } from "bullmq";
import { createAfterCommit } from "./after-commit.ts";
import { createHitWriter } from "./hit-writer.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { type StoreOutcome, storeBatch } from "./store-batch.ts";

export interface HitProcessorDeps {
  db: Db;
  publisher: RedisConnection;
  keys: Keys;
  metrics: WorkerMetrics;
  log: Logger;
  /** The least time between the starts of two statements (WORKER_STATEMENT_SPACING_MS). */
  spacingMs: number;
  /**
   * Jobs one shard's consumer holds at once (WORKER_CONCURRENCY shared out over the shards):
   * a job waiting in a statement holds one, and its shard may be the only one with jobs.
   */
  shardConcurrency: number;
}

/** Hits per statement at most; a deep queue fills statements up to here. */
const MAX_HITS_PER_STATEMENT = 5_000;
/**
 * A statement of this many hits goes as soon as a slot is free, whatever the spacing: one
 * full gateway job (BATCH_MAX_HITS) already pays for its commit, and spacing large statements
 * would only leave a slot idle while the queue is deep.
 */
const UNSPACED_HITS = 500;
/**
 * Nor does one holding this share of a shard's job slots: the jobs waiting in it are the
 * slots, and with them all taken the group could not grow yet would still wait, capping the
 * worker at its concurrency per spacing interval when jobs are tiny.
 */
const UNSPACED_SLOT_SHARE = 0.5;
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
 * Each statement is two steps: store, then after-commit (metrics, lag, the change message).
 */
export const createHitProcessor = ({ db, publisher, keys, metrics, log, spacingMs, shardConcurrency }: HitProcessorDeps) => {
  const unspacedJobs = Math.max(1, Math.floor(shardConcurrency * UNSPACED_SLOT_SHARE));
  const insert = createHitWriter(db, () => metrics.duplicateFallbacks.inc());
  const afterCommit = createAfterCommit({ publisher, keys, metrics, log });
  /** Commits the hits in one statement (or narrows a bad one down); a failure retries every job in it. */
  const store = async (hits: readonly WireHit[], mayExist: boolean, started: number): Promise<StoreOutcome> => {
    try {
      return await storeBatch(db, (batch) => insert(batch, mayExist), hits, log);
    } catch (error) {
      metrics.batchSeconds.observe({ result: "error" }, (performance.now() - started) / 1000);
      log.warn({ err: error, hits: hits.length }, "hit statement failed, its jobs will retry");
      throw error;
    }
  };
  const statements = new GroupCommit<JobHits>({
    maxItems: MAX_HITS_PER_STATEMENT,
    weigh: (job) => job.hits.length,
    lingerMs: 0,
    spacingMs,
    spaced: ({ weight, items }) => weight < UNSPACED_HITS && items < unspacedJobs,
    maxInFlight: STATEMENTS_IN_FLIGHT,
    flush: async (jobs) => {
      const started = performance.now();
      const hits = jobs.length === 1 ? (jobs[0] as JobHits).hits : jobs.flatMap((job) => job.hits);
      const outcome = await store(
        hits,
        jobs.some((job) => job.mayExist),
        started,
      );
      await afterCommit(hits, outcome, started);
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
