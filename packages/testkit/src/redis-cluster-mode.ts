import type { TestProject } from "vitest/node";
import { startPrivateRedisCluster } from "./redis-cluster.ts";
import "./provided.ts";

/**
 * USAGE_TEST_REDIS=cluster (`pnpm test:cluster`): the run starts a private Redis Cluster and
 * every test env uses it through REDIS_CLUSTER_NODES. Otherwise the run uses the one node at
 * REDIS_URL. Returns the teardown.
 */
export const setupTestRedis = async (project: TestProject): Promise<() => Promise<void>> => {
  if (process.env.USAGE_TEST_REDIS !== "cluster") {
    project.provide("redisClusterNodes", "");
    return async () => {};
  }
  const cluster = await startPrivateRedisCluster();
  project.provide("redisClusterNodes", cluster.seeds);
  return () => cluster.stop();
};
