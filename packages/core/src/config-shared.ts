import { ConfigError, int, oneOf, str, url } from "./config-parsers.ts";
import { type Env, loadOrExit, type SettingReader, settingReader } from "./config-reader.ts";

/** The settings every process reads: the gateway, the worker, `pnpm migrate` and `pnpm seed`. */
export interface SharedConfig {
  nodeEnv: "development" | "production" | "test";
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  databaseUrl: string;
  redisUrl: string;
  /** Namespace of every Redis key and of the queue, so deployments and test runs never collide. */
  redisPrefix: string;
  maxEventAgeDays: number;
  retentionDays: number;
}

export const readSharedSettings = ({ read }: SettingReader): SharedConfig => {
  const config: SharedConfig = {
    nodeEnv: read("NODE_ENV", oneOf("development", "production", "test"), "development"),
    logLevel: read("LOG_LEVEL", oneOf("fatal", "error", "warn", "info", "debug", "trace", "silent"), "info"),
    databaseUrl: read("DATABASE_URL", url("postgres:", "postgresql:"), "postgres://127.0.0.1:5432/usage"),
    redisUrl: read("REDIS_URL", url("redis:", "rediss:"), "redis://127.0.0.1:6379"),
    redisPrefix: read("REDIS_PREFIX", str(), "usage"),
    maxEventAgeDays: read("MAX_EVENT_AGE_DAYS", int(1, 3650), 30),
    retentionDays: read("RETENTION_DAYS", int(1, 3650), 90),
  };
  if (config.maxEventAgeDays > config.retentionDays) {
    throw new ConfigError(`MAX_EVENT_AGE_DAYS (${config.maxEventAgeDays}) must not exceed RETENTION_DAYS (${config.retentionDays})`);
  }
  return config;
};

/** HOST: where the gateway listens and the worker serves its metrics (both bind one address). */
export const readHost = ({ read }: SettingReader): string => read("HOST", str(), "127.0.0.1");

/** Throws a ConfigError whose message is one line naming the setting. */
export const parseSharedConfig = (env: Env): Readonly<SharedConfig> => Object.freeze(readSharedSettings(settingReader(env)));

export const loadSharedConfigOrExit = (env: Env = process.env): Readonly<SharedConfig> => loadOrExit(parseSharedConfig, env);
