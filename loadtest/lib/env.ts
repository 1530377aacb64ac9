import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createDb, type Db, ensureDatabase, ensureIngestPartitions, migrateToLatest } from "@usage/db";
import { createRedis, isCluster, type RedisConnection } from "@usage/store";
import { adminQuery, eventually, freePort } from "@usage/testkit";

export interface BenchEnv {
  settings: Record<string, string>;
  db: Db;
  /** The bench's own connection to the Redis the service uses: one node, or the private cluster. */
  redis: RedisConnection;
  databaseUrl: string;
  cleanup(): Promise<void>;
}

/** What the bench's gateway and worker processes run with: production mode, quotas out of the way. */
export const serviceSettings = (databaseUrl: string, redisUrl: string, prefix: string, spoolDir: string): Record<string, string> => ({
  NODE_ENV: "production",
  JWT_SECRET: "bench-secret-bench-secret-bench-secret-0000",
  ENCRYPTION_KEY: Buffer.alloc(32, 3).toString("base64"),
  ADMIN_API_KEY: "bench-admin-key-0123456789",
  LOG_LEVEL: "warn",
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl,
  REDIS_PREFIX: prefix,
  RATE_LIMIT_PER_HOUR: "1000000000",
  REGISTER_LIMIT_PER_HOUR: "1000000",
  SPOOL_DIR: spoolDir,
});

/**
 * A database and Redis prefix of this run's own, removed at the end. With `clusterSeeds` (a
 * private cluster's REDIS_CLUSTER_NODES) the service uses that cluster instead of REDIS_URL,
 * with the hit queue in as many shards as the service's default there; its keys go with
 * the cluster when the caller stops it.
 */
export const createBenchEnv = async (keep: boolean, clusterSeeds?: string): Promise<BenchEnv> => {
  const suffix = Date.now().toString(36);
  const base = new URL(process.env.DATABASE_URL ?? "postgres://127.0.0.1:5432/usage");
  base.pathname = `/usage_bench_${suffix}`;
  const databaseUrl = base.toString();
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { max: 4 });
  await migrateToLatest(db);
  await ensureIngestPartitions(db, 30);
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const prefix = `bench_${suffix}`;
  const spoolDir = `var/bench-spool-${suffix}`;
  const redisClusterNodes = clusterSeeds?.split(",").map((seed) => {
    const at = seed.lastIndexOf(":");
    return { host: seed.slice(0, at), port: Number(seed.slice(at + 1)) };
  });
  // "blocking": the bench's queue questions wait out a slow moment instead of failing the run.
  const redis = createRedis({ redisUrl, redisClusterNodes }, "blocking");
  const settings = serviceSettings(databaseUrl, redisUrl, prefix, spoolDir);
  const topology: Record<string, string> =
    clusterSeeds === undefined ? { HIT_QUEUE_SHARDS: "1" } : { REDIS_CLUSTER_NODES: clusterSeeds, HIT_QUEUE_SHARDS: "3" };
  return {
    databaseUrl,
    db,
    redis,
    settings: { ...settings, ...topology },
    async cleanup() {
      await db.destroy();
      if (!isCluster(redis)) {
        const stream = redis.scanStream({ match: `${prefix}:*`, count: 1000 });
        for await (const keys of stream as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
      }
      redis.disconnect();
      rmSync(spoolDir, { recursive: true, force: true });
      if (!keep) await adminQuery(databaseUrl, `DROP DATABASE IF EXISTS "usage_bench_${suffix}" WITH (FORCE)`);
    },
  };
};

export interface Proc {
  child: ChildProcess;
  port: number;
  base: string;
  stop(): Promise<void>;
}

/** Starts a node script on a free port and waits until `probe` answers. */
export const startProcess = async (args: string[], env: Record<string, string>, probe = "/health", withPort = true): Promise<Proc> => {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_FLAGS ?? "--max-old-space-size=128 --max-semi-space-size=16").split(" ").filter(Boolean),
      ...(withPort ? [...args, String(port)] : args),
    ],
    {
      // As `pnpm start` runs them (scripts/start.ts).
      env: { MALLOC_ARENA_MAX: "2", ...process.env, ...env, PORT: String(port) },
      stdio: ["ignore", process.env.BENCH_STDOUT === "1" ? "inherit" : "ignore", "inherit"],
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  if (probe !== "") {
    await eventually(
      async () => {
        const response = await fetch(`${base}${probe}`, { method: probe === "/api/logs" ? "POST" : "GET" }).catch(() => undefined);
        return response === undefined ? undefined : true;
      },
      30_000,
      args.join(" "),
    );
  }
  return {
    child,
    port,
    base,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
};
