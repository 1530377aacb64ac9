import { createHash } from "node:crypto";
import type { ClientDaily, DailyUsage, TopUsage } from "@usage/contract";
import { AppError, lastDays, utcDay } from "@usage/core";
import { dailyTotalsForClients, rankClientsByDays } from "@usage/db";
import { type Counters, DAILY_WINDOW_DAYS, type Keys } from "@usage/store";
import type { ClientDirectory } from "../auth/client-directory.ts";
import type { ReadDb } from "../infra/read-db.ts";
import { decodeCursor, encodeCursor, startAfter } from "./cursor.ts";
import type { Read, ReadCache } from "./read-cache.ts";
import type { TopList } from "./top-list.ts";

export interface UsageReads {
  clientDaily(clientId: string): Promise<Read<DailyUsage>>;
  adminDaily(limit: number, cursor: string | undefined): Promise<Read<DailyUsage>>;
  /** These clients (lower-case ids, each once), in this order; ids that are no client left out. */
  selectedDaily(clientIds: readonly string[]): Promise<Read<DailyUsage>>;
  top(limit: number): Promise<Read<TopUsage>>;
  /** Fills the caches for today's most active clients, so the first reads after a start are hot. */
  warm(count: number): Promise<number>;
}

export interface UsageReadDeps {
  keys: Keys;
  counters: Counters;
  /** The rollups, read while Redis is unreachable: the replica when it can answer. */
  rollups: ReadDb;
  directory: ClientDirectory;
  cache: ReadCache;
  topList: TopList;
  now?: () => number;
}

type Ranked = Array<{ clientId: string; total: number }>;

/**
 * Daily usage from the live Redis counters behind the versioned cache (the script that
 * counts a hit bumps its client's version and the global one, a sum of per-bucket shares),
 * so an answer is reused only while nothing it covers changed. Postgres rollups when Redis
 * is unreachable.
 */
export const createUsageReads = ({ keys, counters, rollups, directory, cache, topList, now = Date.now }: UsageReadDeps): UsageReads => {
  const row = (clientId: string, name: string, days: readonly string[], totals: readonly number[]): ClientDaily => ({
    client_id: clientId,
    name,
    days: days.map((date, i) => ({ date, total_requests: totals[i] ?? 0 })),
  });

  const rollupTotals = async (clientIds: readonly string[], days: readonly string[]): Promise<Map<string, number[]>> => {
    const rows = await rollups.read((db) => dailyTotalsForClients(db, clientIds, days[0] as string, days[days.length - 1] as string));
    const out = new Map(clientIds.map((id) => [id, days.map(() => 0)]));
    for (const r of rows) {
      const index = days.indexOf(r.day);
      const totals = out.get(r.clientId);
      if (totals !== undefined && index >= 0) totals[index] = r.total;
    }
    return out;
  };
  const liveTotals = async (clientIds: readonly string[], days: readonly string[]): Promise<Map<string, number[]>> => {
    const rows = await Promise.all(clientIds.map((id) => counters.dailyTotals(id, days)));
    return new Map(clientIds.map((id, i) => [id, rows[i] as number[]]));
  };

  const page = async (days: readonly string[], ranked: Ranked, hasMore: boolean, totalsOf: typeof liveTotals): Promise<DailyUsage> => {
    const ids = ranked.map((r) => r.clientId);
    const [names, totals] = await Promise.all([directory.names(ids), totalsOf(ids, days)]);
    const last = ranked[ranked.length - 1];
    return {
      data: ids.map((id) => row(id, names.get(id) ?? "", days, totals.get(id) ?? [])),
      next_cursor: hasMore && last !== undefined ? encodeCursor(last) : null,
    };
  };

  const reads: UsageReads = {
    clientDaily(clientId) {
      const days = lastDays(now(), DAILY_WINDOW_DAYS);
      const today = days[days.length - 1] as string;
      return cache.cached(
        `daily:${clientId}:${today}`,
        { version: () => counters.clientVersion(clientId), entryKey: keys.cache("client", clientId, "daily", today) },
        () => page(days, [{ clientId, total: 0 }], false, liveTotals),
        () => page(days, [{ clientId, total: 0 }], false, rollupTotals),
      );
    },

    adminDaily(limit, cursorText) {
      const cursor = cursorText === undefined ? undefined : decodeCursor(cursorText);
      if (cursorText !== undefined && cursor === undefined)
        throw new AppError("VALIDATION_ERROR", "querystring/cursor is not a valid cursor");
      const days = lastDays(now(), DAILY_WINDOW_DAYS);
      const today = days[days.length - 1] as string;
      return cache.cached(
        `admin-daily:${today}:${limit}:${cursorText ?? ""}`,
        { version: counters.globalVersion, entryKey: keys.cache("global", "daily", today, limit, cursorText ?? "") },
        async () => {
          const ranking = await counters.rank({ days }, 0);
          const start = startAfter(ranking, cursor);
          return page(days, ranking.slice(start, start + limit), start + limit < ranking.length, liveTotals);
        },
        async () => {
          const ranked = await rollups.read((db) => rankClientsByDays(db, days[0] as string, today, limit + 1, cursor));
          return page(days, ranked.slice(0, limit), ranked.length > limit, rollupTotals);
        },
      );
    },

    selectedDaily(clientIds) {
      const days = lastDays(now(), DAILY_WINDOW_DAYS);
      const today = days[days.length - 1] as string;
      // Up to 100 ids: the key holds a digest of the list, not the list.
      const list = createHash("sha256").update(clientIds.join(",")).digest("base64url");
      const selection = (totalsOf: typeof liveTotals) => async (): Promise<DailyUsage> => {
        // Which ids are clients, from the directory: a Postgres failure fails the read rather
        // than caching an answer that leaves out clients it could not look up.
        const known = await directory.identities(clientIds);
        const ids = clientIds.filter((id) => known.has(id));
        const totals = await totalsOf(ids, days);
        return { data: ids.map((id) => row(id, known.get(id)?.name ?? "", days, totals.get(id) ?? [])), next_cursor: null };
      };
      // The global version, as for the admin's pages: any hit may be one of these clients'.
      return cache.cached(
        `selected-daily:${today}:${list}`,
        { version: counters.globalVersion, entryKey: keys.cache("global", "selected-daily", today, list) },
        selection(liveTotals),
        selection(rollupTotals),
      );
    },

    top: (limit) => topList.read(limit),

    async warm(count) {
      const today = utcDay(now());
      const active = await counters.rank({ days: [today] }, count);
      const ids = active.map((r) => r.clientId);
      await directory.warm(ids);
      await Promise.all(ids.map((id) => reads.clientDaily(id)));
      await topList.refresh();
      return ids.length;
    },
  };
  return reads;
};
