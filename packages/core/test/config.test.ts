import { describe, expect, it } from "vitest";
import { parseGatewayConfig } from "../src/config-gateway.ts";
import { ConfigError } from "../src/config-reader.ts";
import { parseSharedConfig } from "../src/config-shared.ts";
import { parseWorkerConfig } from "../src/config-worker.ts";

const KEY = Buffer.alloc(32, 1).toString("base64");
const PROD = { NODE_ENV: "production", JWT_SECRET: "s".repeat(32), ENCRYPTION_KEY: KEY };

const failure = (env: Record<string, string>, parse: (env: Record<string, string>) => unknown = parseGatewayConfig): string => {
  try {
    parse(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("gateway configuration", () => {
  it("has the contract's defaults", () => {
    const config = parseGatewayConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: "127.0.0.1",
      databaseUrl: "postgres://127.0.0.1:5432/usage",
      databaseReadUrl: "postgres://127.0.0.1:5432/usage",
      redisUrl: "redis://127.0.0.1:6379",
      adminApiKey: undefined,
      rateLimitPerHour: 1000,
      registerLimitPerHour: 20,
      maxEventAgeDays: 30,
      retentionDays: 90,
      trustProxy: false,
      bodyLimitBytes: 1024 * 1024,
      batchSpacingMs: 0,
    });
    expect(config.adminIpAllowlist).toEqual([
      { address: "127.0.0.1", prefix: 32, family: "ipv4" },
      { address: "::1", prefix: 128, family: "ipv6" },
    ]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    [{ PORT: "abc" }, /^PORT must be an integer from 0 to 65535 \(got "abc"\)$/],
    [{ RATE_LIMIT_PER_HOUR: "0" }, /^RATE_LIMIT_PER_HOUR must be an integer/],
    [{ DATABASE_URL: "mysql://x" }, /^DATABASE_URL must be a postgres: or postgresql: URL/],
    [{ REDIS_URL: "::" }, /^REDIS_URL must be a URL/],
    [{ DATABASE_READ_URL: "redis://replica" }, /^DATABASE_READ_URL must be a postgres: or postgresql: URL \(got "redis:\/\/replica"\)$/],
    [{ DATABASE_READ_URL: "replica:5432" }, /^DATABASE_READ_URL must be a postgres: or postgresql: URL/],
    [{ ADMIN_IP_ALLOWLIST: "10.0.0.0/33" }, /^ADMIN_IP_ALLOWLIST has an invalid prefix/],
    [{ ADMIN_IP_ALLOWLIST: "nope" }, /^ADMIN_IP_ALLOWLIST has an invalid address/],
    [{ ENCRYPTION_KEY: "c2hvcnQ=" }, /^ENCRYPTION_KEY must be 32 bytes/],
    [{ TRUST_PROXY: "maybe" }, /^TRUST_PROXY has an invalid address/],
    [{ MAX_EVENT_AGE_DAYS: "100", RETENTION_DAYS: "90" }, /MAX_EVENT_AGE_DAYS \(100\) must not exceed RETENTION_DAYS/],
    [{ TLS_CERT_FILE: "/x.pem" }, /TLS_CERT_FILE and TLS_KEY_FILE must be set together/],
    [{ REDIS_CLUSTER_NODES: "10.0.0.1:7000,10.0.0.2" }, /^REDIS_CLUSTER_NODES has "10.0.0.2", which is not host:port/],
    [{ REDIS_CLUSTER_NODES: "redis://a:7000" }, /^REDIS_CLUSTER_NODES has "redis:\/\/a:7000", which is not host:port/],
    [{ REDIS_CLUSTER_NODES: "a:70000" }, /^REDIS_CLUSTER_NODES has "a:70000"/],
    [{ REDIS_CLUSTER_NODES: " , " }, /^REDIS_CLUSTER_NODES must name at least one host:port/],
    [{ HIT_QUEUE_SHARDS: "0" }, /^HIT_QUEUE_SHARDS must be an integer from 1 to 64/],
    [{ BATCH_SPACING_MS: "2000" }, /^BATCH_SPACING_MS must be an integer from 0 to 1000 \(got "2000"\)$/],
  ])("refuses %o with one line naming the setting", (env, message) => {
    const text = failure(env as Record<string, string>);
    expect(text).toMatch(message);
    expect(text).not.toContain("\n");
  });

  it("runs on one Redis node with one hit queue unless REDIS_CLUSTER_NODES names a cluster", () => {
    expect(parseGatewayConfig({})).toMatchObject({ redisClusterNodes: undefined, hitQueueShards: 1 });
    const cluster = parseGatewayConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b:7001,[::1]:7002" });
    expect(cluster.redisClusterNodes).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "redis-b", port: 7001 },
      { host: "::1", port: 7002 },
    ]);
    expect(cluster.hitQueueShards).toBe(3);
    expect(parseGatewayConfig({ REDIS_CLUSTER_NODES: "a:1", HIT_QUEUE_SHARDS: "6" }).hitQueueShards).toBe(6);
  });

  it("reads from DATABASE_URL unless DATABASE_READ_URL names a replica", () => {
    const primary = "postgres://db-primary:5432/usage";
    expect(parseGatewayConfig({ DATABASE_URL: primary }).databaseReadUrl).toBe(primary);
    const replica = "postgresql://reader@db-replica:5432/usage";
    expect(parseGatewayConfig({ DATABASE_URL: primary, DATABASE_READ_URL: replica })).toMatchObject({
      databaseUrl: primary,
      databaseReadUrl: replica,
    });
    // The worker writes and reads on the primary alone.
    expect(parseWorkerConfig({ DATABASE_READ_URL: replica })).not.toHaveProperty("databaseReadUrl");
  });

  it("finds the dashboard's build in this repository by default, and takes a directory of its own", () => {
    const root = new URL("../../../", import.meta.url).pathname;
    expect(parseGatewayConfig({}).dashboardDir).toBe(`${root}apps/dashboard/dist`);
    expect(parseGatewayConfig({ DASHBOARD_DIR: "/srv/dashboard" }).dashboardDir).toBe("/srv/dashboard");
    expect(parseGatewayConfig({ DASHBOARD_DIR: "build/web" }).dashboardDir).toMatch(/\/build\/web$/);
  });

  it("has no secret defaults in production", () => {
    expect(failure({ NODE_ENV: "production", ENCRYPTION_KEY: KEY })).toBe("JWT_SECRET is required");
    expect(failure({ NODE_ENV: "production", JWT_SECRET: "s".repeat(32) })).toBe("ENCRYPTION_KEY is required");
    expect(parseGatewayConfig(PROD).jwtSecret).toBe("s".repeat(32));
  });

  it("keeps a secret out of the message when it is too short", () => {
    const text = failure({ ...PROD, JWT_SECRET: "short-secret" });
    expect(text).toMatch(/^JWT_SECRET must be at least 32 characters/);
  });
});

/** An env that records every setting a parser looks up. */
const recordingEnv = (values: Record<string, string> = {}): { env: Record<string, string | undefined>; read: Set<string> } => {
  const read = new Set<string>();
  const env = new Proxy(values, {
    get: (target, name) => {
      if (typeof name === "string") read.add(name);
      return typeof name === "string" ? target[name] : undefined;
    },
  });
  return { env, read };
};

const SHARED = [
  "NODE_ENV",
  "LOG_LEVEL",
  "DATABASE_URL",
  "REDIS_URL",
  "REDIS_CLUSTER_NODES",
  "HIT_QUEUE_SHARDS",
  "REDIS_PREFIX",
  "MAX_EVENT_AGE_DAYS",
  "RETENTION_DAYS",
];

describe("worker configuration", () => {
  it("has the shared defaults and its own, and nothing of the gateway's", () => {
    const config = parseWorkerConfig({});
    expect(config).toEqual({
      nodeEnv: "development",
      logLevel: "info",
      databaseUrl: "postgres://127.0.0.1:5432/usage",
      redisUrl: "redis://127.0.0.1:6379",
      redisClusterNodes: undefined,
      hitQueueShards: 1,
      redisPrefix: "usage",
      maxEventAgeDays: 30,
      retentionDays: 90,
      host: "127.0.0.1",
      workerConcurrency: 32,
      statementSpacingMs: 20,
      workerMetricsPort: 9464,
      exportConcurrency: 1,
      exportLockMs: 10_000,
      exportYieldPercent: 50,
      exportChunkBytes: 1_048_576,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("reads only the shared settings, HOST and its own", () => {
    const { env, read } = recordingEnv();
    parseWorkerConfig(env);
    expect([...read].sort()).toEqual(
      [
        ...SHARED,
        "HOST",
        "WORKER_CONCURRENCY",
        "WORKER_STATEMENT_SPACING_MS",
        "WORKER_METRICS_PORT",
        "WORKER_EXPORT_CONCURRENCY",
        "WORKER_EXPORT_LOCK_MS",
        "WORKER_EXPORT_YIELD_PERCENT",
        "WORKER_EXPORT_CHUNK_BYTES",
      ].sort(),
    );
  });

  it("starts with a bad TLS_CERT_FILE, which the gateway refuses", () => {
    const env = { TLS_CERT_FILE: "/nonexistent/cert.pem", TLS_KEY_FILE: "/nonexistent/key.pem" };
    expect(parseWorkerConfig(env).workerConcurrency).toBe(32);
    expect(failure(env)).toBe('TLS_CERT_FILE names a file that does not exist (got "/nonexistent/cert.pem")');
  });

  it("needs no gateway secret in production, which the gateway requires", () => {
    expect(parseWorkerConfig({ NODE_ENV: "production" }).nodeEnv).toBe("production");
    expect(failure({ NODE_ENV: "production" })).toBe("JWT_SECRET is required");
  });

  it.each([
    [{ WORKER_CONCURRENCY: "0" }, /^WORKER_CONCURRENCY must be an integer from 1 to 256 \(got "0"\)$/],
    [{ WORKER_METRICS_PORT: "x" }, /^WORKER_METRICS_PORT must be an integer/],
    [{ WORKER_STATEMENT_SPACING_MS: "-1" }, /^WORKER_STATEMENT_SPACING_MS must be an integer from 0 to 1000 \(got "-1"\)$/],
    [{ WORKER_EXPORT_CONCURRENCY: "0" }, /^WORKER_EXPORT_CONCURRENCY must be an integer from 1 to 16 \(got "0"\)$/],
    [{ WORKER_EXPORT_LOCK_MS: "500" }, /^WORKER_EXPORT_LOCK_MS must be an integer from 1000 to 600000/],
    [{ DATABASE_URL: "mysql://x" }, /^DATABASE_URL must be a postgres: or postgresql: URL/],
    [{ MAX_EVENT_AGE_DAYS: "100", RETENTION_DAYS: "90" }, /MAX_EVENT_AGE_DAYS \(100\) must not exceed RETENTION_DAYS/],
  ])("refuses %o with one line naming the setting", (env, message) => {
    const text = failure(env as Record<string, string>, parseWorkerConfig);
    expect(text).toMatch(message);
    expect(text).not.toContain("\n");
  });
});

describe("shared configuration (migrate, seed)", () => {
  it("reads only the settings every process shares", () => {
    const { env, read } = recordingEnv({ PORT: "abc", WORKER_CONCURRENCY: "0" });
    expect(parseSharedConfig(env).redisPrefix).toBe("usage");
    expect([...read].sort()).toEqual([...SHARED].sort());
  });

  it("refuses a bad shared setting with one line naming it", () => {
    expect(failure({ REDIS_PREFIX: "", LOG_LEVEL: "loud" }, parseSharedConfig)).toMatch(/^LOG_LEVEL must be one of fatal, error/);
  });
});
