import { AppError } from "@usage/core";
import { type RedisConnection, scriptsOf } from "@usage/store";
import { LRUCache } from "lru-cache";

export type CacheStatus = "HIT" | "MISS";
export type CacheSource = "redis" | "memory" | "postgres";
export interface Read<T> {
  body: T;
  cache: CacheStatus;
}

export const CACHE_TTL_S = 3600;

/**
 * Where a versioned answer lives: how to read its scope's version (a client's counter, or the
 * sum of the buckets' version shares for a global read), and the key of its entry, a hash holding
 * the answer and the version it was computed at.
 */
export interface VersionedKey {
  version: () => Promise<number>;
  entryKey: string;
}

export interface ReadCache {
  /**
   * Versioned read-through: the Redis entry if it was computed at the scope's current version
   * or later (both read in one round trip), else `compute` once however many callers miss
   * together. With Redis unreachable: the last answer held in memory, else `fallback` (Postgres).
   */
  cached<T>(logicalKey: string, where: VersionedKey, compute: () => Promise<T>, fallback: () => Promise<T>): Promise<Read<T>>;
  singleFlight<T>(key: string, compute: () => Promise<T>): Promise<T>;
  remember(logicalKey: string, value: unknown): void;
  /** The Redis-down path of `cached`, for readers that keep their own Redis entries. */
  degraded<T>(logicalKey: string, fallback: () => Promise<T>): Promise<Read<T>>;
}

export const createReadCache = (redis: RedisConnection, onCache?: (status: CacheStatus, source: CacheSource) => void): ReadCache => {
  const scripts = scriptsOf(redis);
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
    async cached(logicalKey, { version, entryKey }, compute, fallback) {
      try {
        const [current, [storedAt, body]] = await Promise.all([version(), redis.hmget(entryKey, "v", "body")]);
        // An entry computed at a later version than the one just read holds at least as much.
        if (storedAt != null && body != null && Number(storedAt) >= current) {
          const value = JSON.parse(body);
          memory.set(logicalKey, { value });
          onCache?.("HIT", "redis");
          return { body: value, cache: "HIT" };
        }
        const value = await singleFlight(`${entryKey}@${current}`, async () => {
          const computed = await compute();
          // Never over a newer answer another gateway stored meanwhile.
          await scripts.storeIfNewer(entryKey, current, Date.now(), JSON.stringify(computed), CACHE_TTL_S);
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
