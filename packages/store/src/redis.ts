import { Redis, type RedisOptions } from "ioredis";

export type { Redis };

export type RedisRole =
  /** Request-path commands: fail at once while disconnected so the caller can fall back. */
  | "command"
  /** BullMQ workers and subscribers: block and retry for as long as it takes. */
  | "blocking";

export const createRedis = (url: string, role: RedisRole, options: RedisOptions = {}): Redis => {
  const redis = new Redis(url, {
    lazyConnect: false,
    connectTimeout: 2_000,
    enableAutoPipelining: role === "command",
    enableOfflineQueue: role !== "command",
    maxRetriesPerRequest: role === "command" ? 1 : null,
    // A request never waits on a Redis that stopped answering (a cut network sends no RST).
    // A command cut off by a disconnect is not sent again on reconnect: its caller already
    // took the fallback path, and a counting script run twice would count twice.
    ...(role === "command" ? { commandTimeout: 2_000, autoResendUnfulfilledCommands: false } : {}),
    // Capped, jittered reconnect so a fleet does not stampede a recovering Redis.
    retryStrategy: (attempt) => Math.min(2_000, 50 * 2 ** Math.min(attempt, 6)) + Math.floor(Math.random() * 100),
    ...options,
  });
  // Connection errors surface through commands and readiness; without a listener they crash.
  redis.on("error", () => {});
  return redis;
};

/** The first ready; rejects after `timeoutMs` so a start never hangs on a dead Redis. */
export const waitReady = async (redis: Redis, timeoutMs = 5_000): Promise<void> => {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      reject(new Error(`redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once("ready", onReady);
  });
};
