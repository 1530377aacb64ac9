import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { base64Key32, type Cidr, ConfigError, cidrList, int, oneOf, str, trustProxy, url } from "./config-parsers.ts";

const DEV_JWT_SECRET = "dev-only-jwt-secret-never-use-in-production-000";
const DEV_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString("base64");

export interface Config {
  nodeEnv: "development" | "production" | "test";
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  port: number;
  host: string;
  databaseUrl: string;
  redisUrl: string;
  /** Namespace of every Redis key and of the queue, so deployments and test runs never collide. */
  redisPrefix: string;
  jwtSecret: string;
  /** Previous signing secret still accepted for verification while tokens roll over. */
  jwtPreviousSecret: string | undefined;
  jwtTtlSeconds: number;
  jwtIssuer: string;
  jwtAudience: string;
  encryptionKey: Buffer;
  adminApiKey: string | undefined;
  adminIpAllowlist: Cidr[];
  rateLimitPerHour: number;
  registerLimitPerHour: number;
  maxEventAgeDays: number;
  retentionDays: number;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  /** false, true (every hop: only when the gateway is reachable through the proxy alone), a hop count, or proxy addresses/CIDRs. */
  trustProxy: boolean | number | string;
  bodyLimitBytes: number;
  batchMaxHits: number;
  batchLingerMs: number;
  batchMaxInFlight: number;
  spoolDir: string;
  spoolMaxBytes: number;
  workerConcurrency: number;
  workerMetricsPort: number;
}

type Env = Record<string, string | undefined>;

/**
 * The workspace root (where pnpm-workspace.yaml is), found upward from the working
 * directory, so `pnpm --filter @usage/gateway start` (run inside apps/gateway) reads the same
 * `.env` and spools to the same place as `pnpm start`.
 */
export const projectRoot = (from = process.cwd()): string => {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    if (dirname(dir) === dir) return resolve(from);
  }
};

/** Reads `.env` from the workspace root if present; real env vars win. */
export const loadDotEnv = (path = join(projectRoot(), ".env")): void => {
  if (existsSync(path)) process.loadEnvFile(path);
};

/**
 * Parses and validates every setting at once. Throws a ConfigError whose message is one
 * line naming the setting, so `main` can print it and exit.
 */
export const parseConfig = (env: Env): Readonly<Config> => {
  const read = <T>(name: string, parse: (raw: string) => T, fallback?: T): T => {
    const raw = env[name];
    if (raw === undefined || raw === "") {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${name} is required`);
    }
    try {
      return parse(raw);
    } catch (error) {
      const why = error instanceof ConfigError ? error.message : "is invalid";
      throw new ConfigError(`${name} ${why} (got "${raw.length > 60 ? `${raw.slice(0, 60)}…` : raw}")`);
    }
  };
  const optional = <T>(name: string, parse: (raw: string) => T): T | undefined =>
    env[name] === undefined || env[name] === "" ? undefined : read(name, parse);

  const nodeEnv = read("NODE_ENV", oneOf("development", "production", "test"), "development");
  const production = nodeEnv === "production";
  const jwtSecret = read("JWT_SECRET", str(32), production ? undefined : DEV_JWT_SECRET);
  const encryptionKey = read("ENCRYPTION_KEY", base64Key32, production ? undefined : Buffer.from(DEV_ENCRYPTION_KEY, "base64"));

  const config: Config = {
    nodeEnv,
    logLevel: read("LOG_LEVEL", oneOf("fatal", "error", "warn", "info", "debug", "trace", "silent"), "info"),
    port: read("PORT", int(0, 65535), 3000),
    host: read("HOST", str(), "127.0.0.1"),
    databaseUrl: read("DATABASE_URL", url("postgres:", "postgresql:"), "postgres://127.0.0.1:5432/usage"),
    redisUrl: read("REDIS_URL", url("redis:", "rediss:"), "redis://127.0.0.1:6379"),
    redisPrefix: read("REDIS_PREFIX", str(), "usage"),
    jwtSecret,
    jwtPreviousSecret: optional("JWT_PREVIOUS_SECRET", str(32)),
    jwtTtlSeconds: read("JWT_TTL_SECONDS", int(60, 86_400), 3600),
    jwtIssuer: read("JWT_ISSUER", str(), "usage-metering"),
    jwtAudience: read("JWT_AUDIENCE", str(), "usage-api"),
    encryptionKey,
    adminApiKey: optional("ADMIN_API_KEY", str(16)),
    adminIpAllowlist: read("ADMIN_IP_ALLOWLIST", cidrList, cidrList("127.0.0.1/32,::1/128")),
    rateLimitPerHour: read("RATE_LIMIT_PER_HOUR", int(1, 1_000_000_000), 1000),
    registerLimitPerHour: read("REGISTER_LIMIT_PER_HOUR", int(1, 1_000_000), 20),
    maxEventAgeDays: read("MAX_EVENT_AGE_DAYS", int(1, 3650), 30),
    retentionDays: read("RETENTION_DAYS", int(1, 3650), 90),
    tlsCertFile: optional("TLS_CERT_FILE", str()),
    tlsKeyFile: optional("TLS_KEY_FILE", str()),
    trustProxy: read("TRUST_PROXY", trustProxy, false),
    bodyLimitBytes: read("BODY_LIMIT_BYTES", int(1024, 64 * 1024 * 1024), 1024 * 1024),
    batchMaxHits: read("BATCH_MAX_HITS", int(1, 10_000), 500),
    batchLingerMs: read("BATCH_LINGER_MS", int(0, 1000), 0),
    batchMaxInFlight: read("BATCH_MAX_IN_FLIGHT", int(1, 64), 4),
    spoolDir: ((dir: string) => (isAbsolute(dir) ? dir : join(projectRoot(), dir)))(read("SPOOL_DIR", str(), "var/spool")),
    spoolMaxBytes: read("SPOOL_MAX_BYTES", int(1024, Number.MAX_SAFE_INTEGER), 1024 * 1024 * 1024),
    workerConcurrency: read("WORKER_CONCURRENCY", int(1, 256), 32),
    workerMetricsPort: read("WORKER_METRICS_PORT", int(0, 65535), 9464),
  };
  if (config.maxEventAgeDays > config.retentionDays) {
    throw new ConfigError(`MAX_EVENT_AGE_DAYS (${config.maxEventAgeDays}) must not exceed RETENTION_DAYS (${config.retentionDays})`);
  }
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    throw new ConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }
  for (const [name, file] of [
    ["TLS_CERT_FILE", config.tlsCertFile],
    ["TLS_KEY_FILE", config.tlsKeyFile],
  ] as const) {
    if (file !== undefined && !existsSync(file)) throw new ConfigError(`${name} names a file that does not exist (got "${file}")`);
  }
  return Object.freeze(config);
};

/** Entry points call this: on a bad setting it prints one line and exits 1. */
export const loadConfigOrExit = (env: Env = process.env): Readonly<Config> => {
  try {
    loadDotEnv();
    return parseConfig(env);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`config error: ${message}\n`);
    process.exit(1);
  }
};

export { ConfigError };
