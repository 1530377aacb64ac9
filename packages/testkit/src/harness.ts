import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type GatewayConfig, parseGatewayConfig, parseWorkerConfig, type WorkerConfig } from "@usage/core";
import { createDb, type Db } from "@usage/db";
import type { Cluster, Redis } from "ioredis";
import { inject } from "vitest";
import { TEST_REDIS_URL, uniqueSuffix } from "./env.ts";
import { adminQuery } from "./pg-admin.ts";
import { type PgServers, testDatabaseEnv } from "./pg-servers.ts";
import { connectTestRedis, removeKeys, testClusterNodes } from "./test-redis.ts";
import "./provided.ts";

export const ADMIN_KEY = "test-admin-key-0123456789abcdef";

export interface TestEnv {
  /** The gateway's settings (the shared ones included), what most tests read. */
  config: Readonly<GatewayConfig>;
  /** The worker's settings, parsed from the same env. */
  workerConfig: Readonly<WorkerConfig>;
  /** The env both configs were parsed from, for spawning processes with the same settings. */
  env: Record<string, string>;
  db: Db;
  redis: Redis | Cluster;
  cleanup(): Promise<void>;
}

export interface RedisTestEnv {
  redis: Redis | Cluster;
  /** A key prefix of this test file's own: every key it writes starts with `${prefix}:`. */
  prefix: string;
  /** Removes the prefix's keys and closes the connection. */
  cleanup(): Promise<void>;
}

/** A connection to the test Redis (or to the cluster `nodes`) and a key prefix private to the calling test file. */
export const createRedisTestEnv = (prefix = `t_${uniqueSuffix()}`, nodes = testClusterNodes()): RedisTestEnv => {
  const redis = connectTestRedis(nodes);
  return {
    redis,
    prefix,
    async cleanup() {
      await removeKeys(redis, `${prefix}:`);
      redis.disconnect();
    },
  };
};

/** Where a test database is cloned from: the run's servers and template unless a test brings its own. */
export interface TestDatabaseSource {
  pg: PgServers;
  template: string;
}

/**
 * A database cloned from the migrated template and a Redis key prefix, both private to the
 * calling test file, removed by cleanup(). In a cluster run the env names the cluster, unless
 * the test brings a Redis of its own (REDIS_URL or REDIS_CLUSTER_NODES in `overrides`).
 */
export const createTestEnv = async (overrides: Record<string, string> = {}, source?: TestDatabaseSource): Promise<TestEnv> => {
  const { pg, template } = source ?? { pg: inject("pgServers"), template: inject("templateDatabase") };
  const suffix = uniqueSuffix();
  const name = `usage_t_${suffix}`;
  await adminQuery(pg.primary, `CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  const clusterNodes = overrides.REDIS_URL === undefined ? (overrides.REDIS_CLUSTER_NODES ?? testClusterNodes()) : undefined;
  const env: Record<string, string> = {
    ...(clusterNodes === undefined ? {} : { REDIS_CLUSTER_NODES: clusterNodes }),
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    // DATABASE_URL, and DATABASE_READ_URL when the run reads through a replica (USAGE_TEST_PG=replica).
    ...(await testDatabaseEnv(pg, name)),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: `t_${suffix}`,
    ADMIN_API_KEY: ADMIN_KEY,
    WORKER_METRICS_PORT: "0",
    SPOOL_DIR: join(tmpdir(), `usage-spool-${suffix}`),
    ...overrides,
  };
  const config = parseGatewayConfig(env);
  const workerConfig = parseWorkerConfig(env);
  const db = createDb(config.databaseUrl, { max: 4 });
  const { redis, cleanup: cleanupRedis } = createRedisTestEnv(config.redisPrefix, clusterNodes);
  return {
    config,
    workerConfig,
    env,
    db,
    redis,
    async cleanup() {
      await db.destroy();
      await cleanupRedis();
      await adminQuery(pg.primary, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await rm(env.SPOOL_DIR as string, { recursive: true, force: true });
    },
  };
};

export const silentLogger = () => createLogger("test", "silent");

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export const eventually = async <T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
};
