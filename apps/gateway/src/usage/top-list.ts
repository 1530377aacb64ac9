import type { TopUsage } from "@usage/contract";
import { AppError, epochHour, HOUR_MS, type Logger } from "@usage/core";
import { topClientsSince } from "@usage/db";
import { type Counters, type Keys, type RedisConnection, scriptsOf, TOP_WINDOW_HOURS } from "@usage/store";
import type { ClientDirectory } from "../auth/client-directory.ts";
import type { ReadDb } from "../infra/read-db.ts";
import { CACHE_TTL_S, type Read, type ReadCache } from "./read-cache.ts";

/** The largest top list ever asked for; computed once and sliced per request. */
const TOP_MAX = 100;
/**
 * An entry computed this recently is served even if hits arrived since: it holds every hit
 * acknowledged before it was computed, so a read starting 1 s after a 202 still sees that
 * hit (the contract's bound), with room for clock skew between gateways.
 */
const FRESH_MS = 500;
const PREFETCH_EVERY_MS = 250;

type TopRows = TopUsage["data"];

export interface TopList {
  read(limit: number): Promise<Read<TopUsage>>;
  /** Recomputes the list if hits arrived since it was stored; returns whether it did. */
  refresh(): Promise<boolean>;
  startPrefetch(): void;
  stop(): void;
}

export interface TopListDeps {
  redis: RedisConnection;
  keys: Keys;
  counters: Counters;
  /** The hourly rollups, read while Redis is unreachable. */
  rollups: ReadDb;
  directory: ClientDirectory;
  cache: ReadCache;
  log: Logger;
  now?: () => number;
}

/**
 * The 24-hour top list: one shared Redis entry per hour, replaced only by a newer computation
 * (compare-and-set on the global version, the sum of the buckets' version shares), and kept fresh in
 * the background by whichever gateway holds a short lock, so reads almost never compute. It
 * is computed from each bucket's top TOP_MAX merged (counters.rank), which is exact.
 */
export const createTopList = ({ redis, keys, counters, rollups, directory, cache, log, now = Date.now }: TopListDeps): TopList => {
  const scripts = scriptsOf(redis);
  let timer: NodeJS.Timeout | undefined;

  const withNames = async (rows: Array<{ clientId: string; total: number }>): Promise<TopRows> => {
    const names = await directory.names(rows.map((row) => row.clientId));
    return rows.map((row) => ({ client_id: row.clientId, name: names.get(row.clientId) ?? "", total_requests: row.total }));
  };
  const hoursOf = (hour: number): number[] => Array.from({ length: TOP_WINDOW_HOURS + 1 }, (_, i) => hour - TOP_WINDOW_HOURS + i);
  const entryKey = (hour: number): string => keys.cache("global", "top", hour);

  const load = async (hour: number): Promise<{ version: number; at: number; rows: TopRows } | undefined> => {
    const [version, at, body] = await redis.hmget(entryKey(hour), "v", "at", "body");
    return version == null || at == null || body == null ? undefined : { version: Number(version), at: Number(at), rows: JSON.parse(body) };
  };

  /** Computes at the current version and stores it unless a newer one is there; returns what is stored. */
  const compute = (hour: number): Promise<TopRows> =>
    cache.singleFlight(`top:${hour}`, async () => {
      const version = await counters.globalVersion();
      const at = now();
      const rows = await withNames(await counters.rank({ hours: hoursOf(hour) }, TOP_MAX));
      const [, , stored] = await scripts.storeIfNewer(entryKey(hour), version, at, JSON.stringify(rows), CACHE_TTL_S);
      return JSON.parse(stored) as TopRows;
    });

  return {
    async read(limit) {
      const nowMs = now();
      const hour = epochHour(nowMs);
      const window = { from: new Date((hour - TOP_WINDOW_HOURS) * HOUR_MS).toISOString(), to: new Date(nowMs).toISOString() };
      const respond = (rows: TopRows, cacheStatus: "HIT" | "MISS"): Read<TopUsage> => {
        cache.remember(`top:${hour}`, rows);
        return { body: { window, data: rows.slice(0, limit) }, cache: cacheStatus };
      };
      try {
        const [version, entry] = await Promise.all([counters.globalVersion(), load(hour)]);
        if (entry !== undefined && (entry.version === version || nowMs - entry.at < FRESH_MS)) return respond(entry.rows, "HIT");
        return respond(await compute(hour), "MISS");
      } catch (error) {
        if (error instanceof AppError) throw error;
        const read = await cache.degraded(`top:${hour}`, async () =>
          withNames(await rollups.read((db) => topClientsSince(db, (hour - TOP_WINDOW_HOURS) * HOUR_MS, TOP_MAX))),
        );
        return { body: { window, data: read.body.slice(0, limit) }, cache: read.cache };
      }
    },

    async refresh() {
      const hour = epochHour(now());
      const [version, entry] = await Promise.all([counters.globalVersion(), load(hour)]);
      if (entry !== undefined && entry.version === version) return false;
      // One gateway refreshes per tick; the others find the entry fresh.
      const locked = await redis.set(keys.lock(`top:${hour}`), "1", "PX", PREFETCH_EVERY_MS, "NX");
      if (locked === null) return false;
      await compute(hour);
      return true;
    },

    startPrefetch() {
      timer ??= setInterval(() => {
        void this.refresh().catch((error: unknown) => log.debug({ err: error }, "top list prefetch skipped"));
      }, PREFETCH_EVERY_MS).unref();
    },

    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
};
