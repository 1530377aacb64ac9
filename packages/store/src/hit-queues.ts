import type { JobType, Queue } from "bullmq";
import type { Keys } from "./keys.ts";
import { closeAfterStart, createHitQueue, type HitBatchJob, hitQueuePlaces, JOBS, type QueueErrorListener } from "./queue.ts";
import { isCluster, type RedisConnection } from "./redis.ts";
import { replicaAck } from "./replica-ack.ts";

/** A shard whose primary had no replica to confirm a job is passed over this long (if another can take it). */
const UNREPLICATED_PAUSE_MS = 2_000;

/**
 * The hit queue as its shards: producers spread batches over them, readers sum over them.
 * One shard on a single node; on a cluster as many as HIT_QUEUE_SHARDS, each on its own slot.
 */
export interface HitQueues {
  readonly shards: readonly Queue<HitBatchJob>[];
  /**
   * Adds one batch to the next shard in turn. Resolves once the job is durable: on a cluster,
   * once a replica of the shard's primary has it too (WAIT); it rejects otherwise, and the
   * caller keeps the batch elsewhere (the gateway's spool).
   */
  add(job: HitBatchJob): Promise<void>;
  /** Job counts summed over the shards. */
  counts<T extends JobType>(...types: T[]): Promise<Record<T, number>>;
  /** A job's id unique across shards: its BullMQ id in `hits`, `<shard name>:<id>` in the others. */
  jobId(shard: Queue<HitBatchJob>, id: string): string;
  /** The shard and BullMQ id a jobId names; undefined when it names no shard. */
  locate(jobId: string): { shard: Queue<HitBatchJob>; id: string } | undefined;
  /** Closes the shards (not the connection, which the caller owns). */
  close(): Promise<void>;
}

export interface HitQueuesOptions {
  /** How long an add waits for a replica on a cluster before it rejects. */
  replicaAckMs?: number;
  /** Told of each shard's errors (the shard's name is the second argument). */
  onError?: QueueErrorListener;
}

export const createHitQueues = (connection: RedisConnection, keys: Keys, count: number, options: HitQueuesOptions = {}): HitQueues => {
  const shards = hitQueuePlaces(keys, count).map((place) => createHitQueue(connection, place, options.onError));
  const byName = new Map(shards.map((shard) => [shard.name, shard]));
  const [first] = shards as [Queue<HitBatchJob>];
  const replicaAckMs = options.replicaAckMs ?? 500;
  const unreplicatedUntil = shards.map(() => 0);
  let turn = 0;

  /** The next shard in turn, passing over those that lately had no replica while another may. */
  const next = (): number => {
    const now = Date.now();
    for (let tried = 0; tried < shards.length; tried++) {
      const index = turn++ % shards.length;
      if ((unreplicatedUntil[index] as number) <= now) return index;
    }
    return turn++ % shards.length;
  };

  return {
    shards,
    async add(job) {
      const index = next();
      const shard = shards[index] as Queue<HitBatchJob>;
      const added = await shard.add(JOBS.hitBatch, job);
      if (!isCluster(connection)) return;
      const replicas = await replicaAck(connection, shard.toKey(String(added.id)), replicaAckMs);
      if (replicas > 0) return;
      unreplicatedUntil[index] = Date.now() + UNREPLICATED_PAUSE_MS;
      throw new Error(`no replica confirmed hit job ${shard.name}:${added.id} within ${replicaAckMs} ms`);
    },
    async counts(...types) {
      const perShard = await Promise.all(shards.map((shard) => shard.getJobCounts(...types)));
      const sums = Object.fromEntries(types.map((type) => [type, 0])) as Record<(typeof types)[number], number>;
      for (const counts of perShard) for (const type of types) sums[type] += counts[type] ?? 0;
      return sums;
    },
    jobId: (shard, id) => (shard === first ? id : `${shard.name}:${id}`),
    locate(jobId) {
      const at = jobId.lastIndexOf(":");
      if (at === -1) return { shard: first, id: jobId };
      const shard = byName.get(jobId.slice(0, at));
      return shard === undefined || shard === first ? undefined : { shard, id: jobId.slice(at + 1) };
    },
    async close() {
      await Promise.allSettled(shards.map(closeAfterStart));
    },
  };
};
