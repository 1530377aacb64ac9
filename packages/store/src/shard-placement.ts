import type { HitQueues } from "./hit-queues.ts";
import { isCluster, type RedisConnection } from "./redis.ts";

export interface ShardPlacement {
  shard: string;
  slot: number;
  /** host:port of the primary serving the shard's slot. */
  primary: string;
}

/**
 * Where the hit queue's shards live on a cluster, as the cluster itself says (CLUSTER KEYSLOT,
 * CLUSTER SLOTS), and whether they are spread: on as many primaries as they can be. Checked at
 * start; a cluster resharded unevenly keeps working, with shards sharing a primary.
 */
export const hitShardPlacement = async (
  connection: RedisConnection,
  queues: HitQueues,
): Promise<{ placements: ShardPlacement[]; spread: boolean } | undefined> => {
  if (!isCluster(connection)) return undefined;
  const ranges = await connection.cluster("SLOTS");
  const primaryOf = (range: (typeof ranges)[number]): string => (range[2] === undefined ? "none" : `${range[2][0]}:${range[2][1]}`);
  const placements = await Promise.all(
    queues.shards.map(async (shard) => {
      const slot = Number(await connection.cluster("KEYSLOT", shard.toKey("meta")));
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      return { shard: shard.name, slot, primary: range === undefined ? "none" : primaryOf(range) };
    }),
  );
  const primaries = new Set(ranges.map(primaryOf)).size;
  const used = new Set(placements.map((placement) => placement.primary)).size;
  return { placements, spread: used === Math.min(primaries, placements.length) };
};
