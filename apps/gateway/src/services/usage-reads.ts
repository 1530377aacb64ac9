import type { ClientDaily, DailyUsage, TopUsage } from "@usage/contract";
import { AppError, epochHour, HOUR_MS, lastDays } from "@usage/core";
import { type Db, dailyTotalsForClients, rankClientsByDays, topClientsSince } from "@usage/db";
import { type Counters, DAILY_WINDOW_DAYS, type Keys, TOP_WINDOW_HOURS } from "@usage/store";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { ClientDirectory } from "./client-directory.ts";
import { decodeCursor, encodeCursor, startAfter } from "./cursor.ts";

export type CacheStatus = "HIT" | "MISS";
export interface Read<T> {
  body: T;
  cache: CacheStatus;
}

export interface UsageReads {
  clientDaily(clientId: string): Promise<Read<DailyUsage>>;
  adminDaily(limit: number, cursor: string | undefined): Promise<Read<DailyUsage>>;
  top(limit: number): Promise<Read<TopUsage>>;
}

export interface UsageReadDeps {
  redis: Redis;
  keys: Keys;
  counters: Counters;
  db: Db;
  directory: ClientDirectory;
  now?: () => number;
  onCache?: (status: CacheStatus, source: "redis" | "memory" | "postgres") => void;
}

/** The largest top list ever asked for; computed once per version and sliced per request. */
const TOP_MAX = 100;
const CACHE_TTL_S = 3600;

type TopRows = Array<{ client_id: string; name: string; total_requests: number }>;

/**
 * Usage reads from the live Redis counters behind a versioned cache: every accepted hit
 * bumps a version in the same script that counts it, so a cached answer is reused only
 * while nothing changed, and a read after a 202 always sees that hit. Concurrent misses of
 * one key compute once. When Redis is unreachable, the last answer held in memory is
 * served, else the Postgres rollups.
 */
export const createUsageReads = ({ redis, keys, counters, db, directory, now = Date.now, onCache }: UsageReadDeps): UsageReads => {
  const inflight = new Map<string, Promise<unknown>>();
  const memory = new LRUCache<string, { value: unknown }>({ max: 10_000, ttl: CACHE_TTL_S * 1000 });

  const singleFlight = <T>(key: string, compute: () => Promise<T>): Promise<T> => {
    const running = inflight.get(key) as Promise<T> | undefined;
    if (running !== undefined) return running;
    const promise = compute().finally(() => inflight.delete(key));
    inflight.set(key, promise);
    return promise;
  };

  /** Versioned read-through cache in Redis, falling back to memory, then to `fallback`. */
  const cached = async <T>(
    logicalKey: string,
    versionedKey: (version: number) => string,
    scope: string | null,
    compute: () => Promise<T>,
    fallback: () => Promise<T>,
  ): Promise<Read<T>> => {
    try {
      const versions = await counters.versions(scope);
      const key = versionedKey(scope === null ? versions.global : versions.client);
      const hit = await redis.get(key);
      if (hit !== null) {
        onCache?.("HIT", "redis");
        const value = JSON.parse(hit) as T;
        memory.set(logicalKey, { value });
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
    }
  };

  const dailyRows = (clientId: string, name: string, days: readonly string[], totals: readonly number[]): ClientDaily => ({
    client_id: clientId,
    name,
    days: days.map((date, i) => ({ date, total_requests: totals[i] ?? 0 })),
  });

  const rollupDaily = async (clientIds: readonly string[], days: readonly string[]): Promise<Map<string, number[]>> => {
    const rows = await dailyTotalsForClients(db, clientIds, days[0] as string, days[days.length - 1] as string);
    const out = new Map(clientIds.map((id) => [id, days.map(() => 0)]));
    for (const row of rows) {
      const index = days.indexOf(row.day);
      const totals = out.get(row.clientId);
      if (totals !== undefined && index >= 0) totals[index] = row.total;
    }
    return out;
  };

  const nameOf = async (clientId: string): Promise<string> => (await directory.names([clientId])).get(clientId) ?? "";

  return {
    async clientDaily(clientId) {
      const days = lastDays(now(), DAILY_WINDOW_DAYS);
      const today = days[days.length - 1] as string;
      return cached(
        `daily:${clientId}:${today}`,
        (version) => keys.cache("client", clientId, "daily", today, version),
        clientId,
        async () => ({
          data: [dailyRows(clientId, await nameOf(clientId), days, await counters.dailyTotals(clientId, days))],
          next_cursor: null,
        }),
        async () => {
          const totals = (await rollupDaily([clientId], days)).get(clientId) ?? [];
          return { data: [dailyRows(clientId, await nameOf(clientId), days, totals)], next_cursor: null };
        },
      );
    },

    async adminDaily(limit, cursorText) {
      const cursor = cursorText === undefined ? undefined : decodeCursor(cursorText);
      if (cursorText !== undefined && cursor === undefined)
        throw new AppError("VALIDATION_ERROR", "querystring/cursor is not a valid cursor");
      const days = lastDays(now(), DAILY_WINDOW_DAYS);
      const today = days[days.length - 1] as string;
      const page = async (
        ranked: Array<{ clientId: string; total: number }>,
        hasMore: boolean,
        totalsOf: (ids: string[]) => Promise<Map<string, number[]>>,
      ): Promise<DailyUsage> => {
        const ids = ranked.map((row) => row.clientId);
        const [names, totals] = await Promise.all([directory.names(ids), totalsOf(ids)]);
        const last = ranked[ranked.length - 1];
        return {
          data: ids.map((id) => dailyRows(id, names.get(id) ?? "", days, totals.get(id) ?? [])),
          next_cursor: hasMore && last !== undefined ? encodeCursor(last) : null,
        };
      };
      return cached(
        `admin-daily:${today}:${limit}:${cursorText ?? ""}`,
        (version) => keys.cache("global", "daily", today, version, limit, cursorText ?? ""),
        null,
        async () => {
          const ranking = await counters.rank(
            days.map((day) => keys.rankDay(day)),
            0,
          );
          const start = startAfter(ranking, cursor);
          const slice = ranking.slice(start, start + limit);
          return page(slice, start + limit < ranking.length, async (ids) => {
            const rows = await Promise.all(ids.map((id) => counters.dailyTotals(id, days)));
            return new Map(ids.map((id, i) => [id, rows[i] as number[]]));
          });
        },
        async () => {
          const ranked = await rankClientsByDays(db, days[0] as string, today, limit + 1, cursor);
          return page(ranked.slice(0, limit), ranked.length > limit, (ids) => rollupDaily(ids, days));
        },
      );
    },

    async top(limit) {
      const nowMs = now();
      const hour = epochHour(nowMs);
      const window = { from: new Date((hour - TOP_WINDOW_HOURS) * HOUR_MS).toISOString(), to: new Date(nowMs).toISOString() };
      const withNames = async (rows: Array<{ clientId: string; total: number }>): Promise<TopRows> => {
        const names = await directory.names(rows.map((row) => row.clientId));
        return rows.map((row) => ({ client_id: row.clientId, name: names.get(row.clientId) ?? "", total_requests: row.total }));
      };
      const hours = Array.from({ length: TOP_WINDOW_HOURS + 1 }, (_, i) => hour - TOP_WINDOW_HOURS + i);
      const read = await cached<TopRows>(
        `top:${hour}`,
        (version) => keys.cache("global", "top", hour, version),
        null,
        async () =>
          withNames(
            await counters.rank(
              hours.map((h) => keys.rankHour(h)),
              TOP_MAX,
            ),
          ),
        async () => withNames(await topClientsSince(db, (hour - TOP_WINDOW_HOURS) * HOUR_MS, TOP_MAX)),
      );
      return { body: { window, data: read.body.slice(0, limit) }, cache: read.cache };
    },
  };
};
