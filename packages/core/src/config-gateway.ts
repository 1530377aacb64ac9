import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { base64Key32, type Cidr, ConfigError, cidrList, int, str, trustProxy, url } from "./config-parsers.ts";
import { type Env, loadOrExit, projectRoot, settingReader } from "./config-reader.ts";
import { readHost, readSharedSettings, type SharedConfig } from "./config-shared.ts";

const DEV_JWT_SECRET = "dev-only-jwt-secret-never-use-in-production-000";
const DEV_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString("base64");
/** The dashboard's build output in this repository, wherever the process was started from. */
const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL("../../../apps/dashboard/dist", import.meta.url));

/**
 * Off: spacing the gateway's BullMQ adds makes fewer, larger jobs (each costs the worker and
 * Redis a fixed few round trips), but adds up to its value to every 202, which enforce mode
 * waits for (docs/benchmarks.md).
 */
export const DEFAULT_BATCH_SPACING_MS = 0;

/** A directory setting: absolute as given, relative to the workspace root otherwise. */
const fromRoot = (dir: string): string => (isAbsolute(dir) ? dir : join(projectRoot(), dir));

export interface GatewayConfig extends SharedConfig {
  /** A streaming replica for reads (rollups, client listings, stream snapshots); equal to `databaseUrl` when there is none. */
  databaseReadUrl: string;
  port: number;
  host: string;
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
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  /** false, true (every hop: only when the gateway is reachable through the proxy alone), a hop count, or proxy addresses/CIDRs. */
  trustProxy: boolean | number | string;
  bodyLimitBytes: number;
  batchMaxHits: number;
  batchLingerMs: number;
  batchMaxInFlight: number;
  /** The least time between the starts of two BullMQ adds of one gateway (0: none). */
  batchSpacingMs: number;
  spoolDir: string;
  spoolMaxBytes: number;
  /** The dashboard's built files (index.html, assets/), served at /dashboard; it need not exist. */
  dashboardDir: string;
}

/**
 * Parses and validates the gateway's settings at once. Throws a ConfigError whose message is
 * one line naming the setting, so `server.ts` can print it and exit.
 */
export const parseGatewayConfig = (env: Env): Readonly<GatewayConfig> => {
  const reader = settingReader(env);
  const { read, optional } = reader;
  const shared = readSharedSettings(reader);
  const production = shared.nodeEnv === "production";

  const config: GatewayConfig = {
    ...shared,
    databaseReadUrl: read("DATABASE_READ_URL", url("postgres:", "postgresql:"), shared.databaseUrl),
    port: read("PORT", int(0, 65535), 3000),
    host: readHost(reader),
    jwtSecret: read("JWT_SECRET", str(32), production ? undefined : DEV_JWT_SECRET),
    jwtPreviousSecret: optional("JWT_PREVIOUS_SECRET", str(32)),
    jwtTtlSeconds: read("JWT_TTL_SECONDS", int(60, 86_400), 3600),
    jwtIssuer: read("JWT_ISSUER", str(), "usage-metering"),
    jwtAudience: read("JWT_AUDIENCE", str(), "usage-api"),
    encryptionKey: read("ENCRYPTION_KEY", base64Key32, production ? undefined : Buffer.from(DEV_ENCRYPTION_KEY, "base64")),
    adminApiKey: optional("ADMIN_API_KEY", str(16)),
    adminIpAllowlist: read("ADMIN_IP_ALLOWLIST", cidrList, cidrList("127.0.0.1/32,::1/128")),
    rateLimitPerHour: read("RATE_LIMIT_PER_HOUR", int(1, 1_000_000_000), 1000),
    registerLimitPerHour: read("REGISTER_LIMIT_PER_HOUR", int(1, 1_000_000), 20),
    tlsCertFile: optional("TLS_CERT_FILE", str()),
    tlsKeyFile: optional("TLS_KEY_FILE", str()),
    trustProxy: read("TRUST_PROXY", trustProxy, false),
    bodyLimitBytes: read("BODY_LIMIT_BYTES", int(1024, 64 * 1024 * 1024), 1024 * 1024),
    batchMaxHits: read("BATCH_MAX_HITS", int(1, 10_000), 500),
    batchLingerMs: read("BATCH_LINGER_MS", int(0, 1000), 0),
    batchMaxInFlight: read("BATCH_MAX_IN_FLIGHT", int(1, 64), 4),
    batchSpacingMs: read("BATCH_SPACING_MS", int(0, 1000), DEFAULT_BATCH_SPACING_MS),
    spoolDir: fromRoot(read("SPOOL_DIR", str(), "var/spool")),
    spoolMaxBytes: read("SPOOL_MAX_BYTES", int(1024, Number.MAX_SAFE_INTEGER), 1024 * 1024 * 1024),
    // Not checked here: the gateway starts without a built dashboard, which answers 503 until it is.
    dashboardDir: fromRoot(read("DASHBOARD_DIR", str(), DEFAULT_DASHBOARD_DIR)),
  };
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

/** The gateway's entry point calls this: on a bad setting it prints one line and exits 1. */
export const loadGatewayConfigOrExit = (env: Env = process.env): Readonly<GatewayConfig> => loadOrExit(parseGatewayConfig, env);
