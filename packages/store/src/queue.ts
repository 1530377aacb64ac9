import { WireHit } from "@usage/contract";
import { type DefaultJobOptions, Queue, type QueueOptions } from "bullmq";
import type { Redis } from "ioredis";
import { type Static, Type } from "typebox";
import { Compile } from "typebox/compile";
import { useFastUuidFormat } from "./uuid.ts";

/**
 * Queue names in one place; the maintenance queue's jobs are declared in maintenance-jobs.ts,
 * the export queue's in export-job.ts.
 */
export const QUEUES = { hits: "hits", maintenance: "maintenance", exports: "exports" } as const;
/** The hit queue's one job; its payload is HitBatchJob. */
export const JOBS = { hitBatch: "hit-batch" } as const;

export const HitBatchJob = Type.Object({
  v: Type.Literal(1),
  hits: Type.Array(WireHit, { minItems: 1 }),
  /**
   * Some hits may be stored already (a duplicate `event_id` enqueued again, a replayed spool
   * segment): the worker's statement then skips stored hits instead of failing on them.
   */
  mayExist: Type.Optional(Type.Literal(true)),
});
export type HitBatchJob = Static<typeof HitBatchJob>;

useFastUuidFormat();
export const hitBatchValidator = Compile(HitBatchJob);
export const wireHitValidator = Compile(WireHit);

/** Retry delays of hit batches: exponential from 250 ms, capped at 5 s, with full jitter on half. */
export const RETRY_BASE_MS = 250;
export const RETRY_CAP_MS = 5_000;

/**
 * The worker's `backoffStrategy` for the "capped" type: a recovered Postgres is used within
 * seconds instead of after a doubling delay, and jitter keeps replicas out of lockstep.
 */
export const cappedBackoff = (attemptsMade: number): number => {
  const ceiling = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
};

/**
 * Hit batches retry for about a day of Postgres outage (17,280 attempts at the 5 s cap);
 * completed jobs are dropped at once, failed ones kept a week for inspection.
 */
export const HIT_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 17_280,
  backoff: { type: "capped" },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
};

export const createHitQueue = (connection: Redis, prefix: string, options: Partial<QueueOptions> = {}): Queue<HitBatchJob> =>
  new Queue<HitBatchJob>(QUEUES.hits, { connection, prefix, defaultJobOptions: HIT_JOB_OPTIONS, ...options });
