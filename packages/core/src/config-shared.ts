import { ConfigError, type HostPort, hostPorts, int, oneOf, str, url } from "./config-parsers.ts";
import { type Env, loadOrExit, type SettingReader, settingReader } from "./config-reader.ts";

/** The settings every process reads: the gateway, the worker, `pnpm migrate` and `pnpm seed`. */
export interface SharedConfig {
  nodeEnv: "development" | "production" | "test";
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  databaseUrl: string;
  /** The one Redis node; not used when `redisClusterNodes` is set. */
  redisUrl: string;
  /** Seeds of a Redis Cluster: when set, every Redis use runs on the cluster (store/src/redis.ts decides). */
  redisClusterNodes: readonly HostPort[] | undefined;
  /**
   * Hit queues the gateways spread batches over and the workers consume. Every gateway and
   * worker must use the same number: a lowered one strands the jobs of the dropped queues
   * (drain first, see docs/scaling.md).
   */
  hitQueueShards: number;
  /** Namespace of every Redis key and of the queue, so deployments and test runs never collide. */
  redisPrefix: string;
  maxEventAgeDays: number;
  retentionDays: number;
}

export const readSharedSettings = ({ read, optional }: SettingReader): SharedConfig => {
  const redisClusterNodes = optional("REDIS_CLUSTER_NODES", hostPorts);
  const config: SharedConfig = {
    nodeEnv: read("NODE_ENV", oneOf("development", "production", "test"), "development"),
    logLevel: read("LOG_LEVEL", oneOf("fatal", "error", "warn", "info", "debug", "trace", "silent"), "info"),
    databaseUrl: read("DATABASE_URL", url("postgres:", "postgresql:"), "postgres://127.0.0.1:5432/usage"),
    redisUrl: read("REDIS_URL", url("redis:", "rediss:"), "redis://127.0.0.1:6379"),
    redisClusterNodes: redisClusterNodes === undefined ? undefined : Object.freeze(redisClusterNodes.map((node) => Object.freeze(node))),
    // One queue on one node (nothing to spread over); on a cluster, one per primary of the smallest cluster.
    hitQueueShards: read("HIT_QUEUE_SHARDS", int(1, 64), redisClusterNodes === undefined ? 1 : 3),
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
