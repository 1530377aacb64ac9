import { WireHit } from "@usage/contract";
import { bounded } from "@usage/core";
import { type DefaultJobOptions, Queue, type QueueOptions } from "bullmq";
import { type Static, Type } from "typebox";
import { Compile } from "typebox/compile";
import type { Keys } from "./keys.ts";
import type { RedisConnection } from "./redis.ts";
import { slotOf } from "./topology.ts";
import { useFastUuidFormat } from "./uuid.ts";

/**
 * Queue names in one place; the maintenance queue's jobs are declared in maintenance-jobs.ts,
 * the export queue's in export-job.ts. The hit queue is sharded: see hitQueuePlaces.
 */
export const QUEUES = { hits: "hits", maintenance: "maintenance", exports: "exports" } as const;

/** Where a queue lives: its BullMQ name and its (hash-tagged) prefix. */
export interface QueuePlace {
  name: string;
  prefix: string;
}

/** The maintenance and export queues: one each, under a hash tag of their own (their own slot). */
export const queuePlace = (keys: Keys, queue: typeof QUEUES.maintenance | typeof QUEUES.exports): QueuePlace => ({
  name: queue,
  prefix: keys.queuePrefix(queue),
});

const SLOTS = 16_384;

/**
 * The hash tag of hit shard `index` of `count`: the first `hits-<index>-<n>` whose slot lies in
 * the middle half of the index-th of `count` equal slot ranges. A cluster whose slots are
 * spread evenly (what `redis-cli --cluster create` and `rebalance` make) so holds each shard on
 * a primary of its own when `count` is at most the number of primaries, and spreads them evenly
 * when it is a multiple. Pure: every gateway and worker finds the same tags.
 */
export const hitShardTag = (index: number, count: number): string => {
  const width = SLOTS / count;
  const from = index * width + width / 4;
  for (let n = 0; ; n++) {
    const tag = `hits-${index}-${n}`;
    const slot = slotOf(`{${tag}}`);
    if (slot >= from && slot < from + width / 2) return tag;
  }
};

/**
 * The tag of the hit queue when it is not sharded: the one every queue had before the
 * queues were sharded, so a single-node deployment upgraded in place finds the hit jobs it
 * accepted before (a new tag would strand them, acknowledged and never stored).
 */
export const UNSHARDED_HIT_TAG = "queue";

/**
 * The hit queue's shards: `hits` first (the only one on a single node), then `hits-1`, … Jobs
 * of a shard have that shard's ids; hitJobId below makes them unique across shards.
 */
export const hitQueuePlaces = (keys: Keys, count: number): QueuePlace[] =>
  Array.from({ length: count }, (_, index) => ({
    name: index === 0 ? QUEUES.hits : `${QUEUES.hits}-${index}`,
    prefix: keys.queuePrefix(count === 1 ? UNSHARDED_HIT_TAG : hitShardTag(index, count)),
  }));
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

/** Told of a queue's errors; they are its connection's (commands fail with them too). */
export type QueueErrorListener = (error: Error, queue: string) => void;

/** Gives a queue its one error listener (BullMQ prints the errors of a queue that has none). */
export const listenForErrors = <Q extends Queue>(queue: Q, onError: QueueErrorListener = () => {}): Q => {
  queue.on("error", (error: Error) => onError(error, queue.name));
  return queue;
};

/** How long a close waits for a start-up check before it closes anyway. */
const START_SETTLE_MS = 2_000;

/** A BullMQ queue or worker: each checks the server (INFO) on its connections as it starts. */
export interface Closable {
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Closes a queue or worker once its start-up check has settled. BullMQ's close drops its
 * listeners at once; a check still in flight that then fails (the connection closes next; on
 * a cluster it often waits on a node still connecting) is emitted to no one, and Node ends the
 * process for the unhandled rejection. With Redis unreachable the wait gives up after 2 s.
 */
export const closeAfterStart = async (started: Closable): Promise<void> => {
  await bounded(started.waitUntilReady(), START_SETTLE_MS).catch(() => {});
  await started.close();
};

/** One shard of the hit queue (producers and readers use all of them through hit-queues.ts). */
export const createHitQueue = (
  connection: RedisConnection,
  place: QueuePlace,
  onError?: QueueErrorListener,
  options: Partial<QueueOptions> = {},
): Queue<HitBatchJob> =>
  listenForErrors(
    new Queue<HitBatchJob>(place.name, { connection, prefix: place.prefix, defaultJobOptions: HIT_JOB_OPTIONS, ...options }),
    onError,
  );
