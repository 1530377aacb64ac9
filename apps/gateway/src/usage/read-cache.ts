import { AppError } from "@usage/core";
import { type RedisConnection, type ScriptCommands, withScripts } from "@usage/store";
import { LRUCache } from "lru-cache";

export type CacheStatus = "HIT" | "MISS";
export type CacheSource = "redis" | "memory" | "postgres";
export interface Read<T> {
  body: T;
  cache: CacheStatus;
}

export const CACHE_TTL_S = 3600;

/** Where a versioned answer lives: its scope's version key, and its cache key less the version. */
export interface VersionedKey {
  versionKey: string;
  keyPrefix: string;
}

export interface ReadCache {
  /**
   * Versioned read-through: the Redis entry for the current version of the scope (one
   * script call reads both), else `compute` once however many callers miss together.
   * With Redis unreachable: the last answer held in memory, else `fallback` (Postgres).
   */
  cached<T>(logicalKey: string, where: VersionedKey, compute: () => Promise<T>, fallback: () => Promise<T>): Promise<Read<T>>;
  singleFlight<T>(key: string, compute: () => Promise<T>): Promise<T>;
  remember(logicalKey: string, value: unknown): void;
  /** The Redis-down path of `cached`, for readers that keep their own Redis entries. */
  degraded<T>(logicalKey: string, fallback: () => Promise<T>): Promise<Read<T>>;
}

export const createReadCache = (client: RedisConnection, onCache?: (status: CacheStatus, source: CacheSource) => void): ReadCache => {
  const redis: RedisConnection & ScriptCommands = withScripts(client);
  const inflight = new Map<string, Promise<unknown>>();
  const memory = new LRUCache<string, { value: unknown }>({ max: 10_000, ttl: CACHE_TTL_S * 1000 });

  const singleFlight = <T>(key: string, compute: () => Promise<T>): Promise<T> => {
    const running = inflight.get(key) as Promise<T> | undefined;
    if (running !== undefined) return running;
    const promise = compute().finally(() => inflight.delete(key));
    inflight.set(key, promise);
    return promise;
  };

  const degraded = async <T>(logicalKey: string, fallback: () => Promise<T>): Promise<Read<T>> => {
    const remembered = memory.get(logicalKey);
    if (remembered !== undefined) {
      onCache?.("HIT", "memory");
      return { body: remembered.value as T, cache: "HIT" };
    }
    const value = await singleFlight(`pg:${logicalKey}`, fallback).catch((cause: unknown) => {
      throw new AppError("UNAVAILABLE", "usage store unavailable, retry later", { cause, retryAfter: 1 });
    });
    onCache?.("MISS", "postgres");
    return { body: value, cache: "MISS" };
  };

  return {
    singleFlight,
    degraded,
    remember: (logicalKey, value) => void memory.set(logicalKey, { value }),
    async cached(logicalKey, { versionKey, keyPrefix }, compute, fallback) {
      try {
        const [version, hit] = await redis.cachedRead(versionKey, keyPrefix);
        const key = `${keyPrefix}${version}`;
        if (hit !== null) {
          const value = JSON.parse(hit);
          memory.set(logicalKey, { value });
          onCache?.("HIT", "redis");
          return { body: value, cache: "HIT" };
        }
        const value = await singleFlight(key, async () => {
          const computed = await compute();
          await redis.set(key, JSON.stringify(computed), "EX", CACHE_TTL_S);
          return computed;
        });
        memory.set(logicalKey, { value });
        onCache?.("MISS", "redis");
        return { body: value, cache: "MISS" };
      } catch (error) {
        if (error instanceof AppError) throw error;
        return degraded(logicalKey, fallback);
      }
    },
  };
};
