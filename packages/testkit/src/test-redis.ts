import { Cluster, Redis } from "ioredis";
import { inject } from "vitest";
import { TEST_REDIS_URL } from "./env.ts";
import "./provided.ts";

/** The test run's Redis Cluster as REDIS_CLUSTER_NODES, or undefined when the run uses one node. */
export const testClusterNodes = (): string | undefined => inject("redisClusterNodes") || undefined;

/**
 * A connection to the test run's Redis (the shared node, or the private cluster under
 * USAGE_TEST_REDIS=cluster; or the cluster `nodes` a test started), for tests to look at and
 * seed keys. It retries like a worker's: a test's own reads never fail over to anything.
 */
export const connectTestRedis = (nodes = testClusterNodes()): Redis | Cluster => {
  const redis =
    nodes === undefined
      ? new Redis(TEST_REDIS_URL)
      : new Cluster(
          nodes
            .split(",")
            .map((node) => ({ host: node.slice(0, node.lastIndexOf(":")), port: Number(node.slice(node.lastIndexOf(":") + 1)) })),
          { redisOptions: { maxRetriesPerRequest: null } },
        );
  redis.on("error", () => {});
  return redis;
};

/** Removes every key under `prefix`: SCAN on each primary, UNLINK key by key (keys of many slots). */
export const removeKeys = async (redis: Redis | Cluster, prefix: string): Promise<void> => {
  const nodes = redis instanceof Cluster ? redis.nodes("master") : [redis];
  for (const node of nodes) {
    for await (const keys of node.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
      if (keys.length === 0) continue;
      if (redis instanceof Cluster) await Promise.all(keys.map((key) => redis.unlink(key)));
      else await redis.unlink(...keys);
    }
  }
};
