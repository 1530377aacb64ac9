import type { Cluster, Redis } from "ioredis";
import { isCluster, type RedisConnection } from "./redis.ts";

/**
 * The one place where counting uses one Redis node differently from a cluster. The key
 * layout and the scripts are the same on both; only how work spanning buckets is cut into
 * calls differs. A cluster runs a script on one slot, so work goes one bucket per call
 * (the calls pipelined, one round trip per node). One node has no slots: a call may cover
 * every bucket at once (declaring each bucket's key), one script run instead of many, which
 * keeps the single-node hot path as cheap as before buckets.
 */
export interface BucketCalls {
  /** Cuts work keyed by bucket into the groups one script call may cover, each in input order. */
  group<T>(items: readonly T[], bucketOf: (item: T) => number): T[][];
  /** The values of keys in any buckets: one MGET on one node, a GET per key on a cluster. */
  getAll(keys: readonly string[]): Promise<Array<string | null>>;
}

const oneNode = (redis: Redis): BucketCalls => ({
  group: (items) => (items.length === 0 ? [] : [[...items]]),
  getAll: async (keys) => (keys.length === 0 ? [] : redis.mget(...keys)),
});

const cluster = (redis: Cluster): BucketCalls => ({
  group<T>(items: readonly T[], bucketOf: (item: T) => number): T[][] {
    const groups = new Map<number, T[]>();
    for (const item of items) {
      const bucket = bucketOf(item);
      const group = groups.get(bucket);
      if (group === undefined) groups.set(bucket, [item]);
      else group.push(item);
    }
    return [...groups.values()];
  },
  // MGET across slots is refused (CROSSSLOT); GETs issued together go out pipelined per node.
  getAll: (keys) => Promise.all(keys.map((key) => redis.get(key))),
});

export const bucketCallsOf = (redis: RedisConnection): BucketCalls => (isCluster(redis) ? cluster(redis) : oneNode(redis));
