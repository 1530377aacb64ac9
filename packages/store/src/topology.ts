/// <reference path="./cluster-key-slot.d.ts" />
import calculateSlot from "cluster-key-slot";
import type { Redis } from "ioredis";
import { groupBy } from "./group-by.ts";
import { isCluster, type RedisConnection } from "./redis.ts";

/** The hash slot of a key under Redis Cluster. */
export const slotOf = (key: string): number => calculateSlot(key);

/** The nodes that hold keys: the cluster's primaries, or the one node. */
export const primaryNodes = (redis: RedisConnection): Redis[] => (isCluster(redis) ? redis.nodes("master") : [redis]);

/** Every key matching `pattern`, in batches, from every primary (SCAN sees one node only). */
export async function* scanKeys(redis: RedisConnection, pattern: string, count = 1000): AsyncGenerator<string[]> {
  for (const node of primaryNodes(redis)) {
    for await (const keys of node.scanStream({ match: pattern, count }) as AsyncIterable<string[]>) if (keys.length > 0) yield keys;
  }
}

/** Groups keys by hash slot: a multi-key command on a cluster may only name keys of one slot. */
export const bySlot = (keys: readonly string[]): string[][] => groupBy(keys, slotOf);

/** UNLINK of any keys: one command on one node, one per slot on a cluster. */
export const unlinkKeys = async (redis: RedisConnection, keys: readonly string[]): Promise<number> => {
  if (keys.length === 0) return 0;
  if (!isCluster(redis)) return redis.unlink(...keys);
  const removed = await Promise.all(bySlot(keys).map((group) => redis.unlink(...group)));
  return removed.reduce((sum, n) => sum + n, 0);
};

/** Removes every key under `prefix` (a test's or a benchmark's namespace), on every primary. */
export const unlinkPrefix = async (redis: RedisConnection, prefix: string): Promise<void> => {
  for await (const keys of scanKeys(redis, `${prefix}*`)) await unlinkKeys(redis, keys);
};
