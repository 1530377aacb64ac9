import type { Cluster, Redis } from "ioredis";
import { groupBy } from "./group-by.ts";
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
  /**
   * Cuts work keyed by bucket into the groups one script call may cover, each in input order:
   * one bucket a call on a cluster; on one node, at most `maxBuckets` buckets a call (a call
   * blocks Redis while it runs, so a read over every bucket goes in a few shorter calls).
   */
  group<T>(items: readonly T[], bucketOf: (item: T) => number, maxBuckets?: number): T[][];
  /** The values of keys in any buckets: one MGET on one node, a GET per key on a cluster. */
  getAll(keys: readonly string[]): Promise<Array<string | null>>;
}

const oneNode = (redis: Redis): BucketCalls => ({
  group<T>(items: readonly T[], bucketOf: (item: T) => number, maxBuckets = Number.POSITIVE_INFINITY): T[][] {
    if (maxBuckets === Number.POSITIVE_INFINITY) return items.length === 0 ? [] : [[...items]];
    const groups: T[][] = [];
    let group: T[] = [];
    let buckets = new Set<number>();
    for (const item of items) {
      const bucket = bucketOf(item);
      if (!buckets.has(bucket) && buckets.size === maxBuckets) {
        groups.push(group);
        group = [];
        buckets = new Set();
      }
      buckets.add(bucket);
      group.push(item);
    }
    if (group.length > 0) groups.push(group);
    return groups;
  },
  getAll: async (keys) => (keys.length === 0 ? [] : redis.mget(...keys)),
});

const cluster = (redis: Cluster): BucketCalls => ({
  group: (items, bucketOf) => groupBy(items, bucketOf),
  // MGET across slots is refused (CROSSSLOT); GETs issued together go out pipelined per node.
  getAll: (keys) => Promise.all(keys.map((key) => redis.get(key))),
});

export const bucketCallsOf = (redis: RedisConnection): BucketCalls => (isCluster(redis) ? cluster(redis) : oneNode(redis));
