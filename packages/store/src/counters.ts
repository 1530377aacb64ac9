import { DAY_MS, epochHour, HOUR_MS, utcDay } from "@usage/core";
import type { Redis } from "ioredis";
import type { Keys } from "./keys.ts";
import { type ScriptCommands, withScripts } from "./scripts.ts";

/** Days shown by the daily endpoint and hours summed by the top endpoint. */
export const DAILY_WINDOW_DAYS = 7;
export const TOP_WINDOW_HOURS = 24;

const DAY_TTL_S = (DAILY_WINDOW_DAYS + 2) * (DAY_MS / 1000);
const HOUR_TTL_S = (TOP_WINDOW_HOURS + 2) * (HOUR_MS / 1000);
const QUOTA_TTL_S = HOUR_MS / 1000 + 60;
export const MARKER_TTL_S = DAY_MS / 1000;

export interface CountedHit {
  eventId: string | null;
  ts: number;
}

export interface CountOutcome {
  accepted: boolean;
  /** Quota used in the current hour after this call. */
  used: number;
  /** Per hit: null when new, else the event time of the copy seen first (a duplicate). */
  priorTs: Array<number | null>;
}

export interface Counters {
  /** Atomically checks the quota, marks event ids and bumps the live counters. */
  count(clientId: string, limit: number, hits: readonly CountedHit[], nowMs: number, force?: boolean): Promise<CountOutcome>;
  /** Reverses `count` for hits that could not be made durable. */
  uncount(clientId: string, hits: readonly CountedHit[], countedAtMs: number): Promise<void>;
  quotaUsed(clientId: string, nowMs: number): Promise<number>;
  dailyTotals(clientId: string, days: readonly string[]): Promise<number[]>;
  /** Sum of the given rank zsets, as (clientId, total) in (total desc, clientId asc) order; count 0 = all. */
  rank(keys: readonly string[], count: number): Promise<Array<{ clientId: string; total: number }>>;
  versions(clientId: string | null): Promise<{ client: number; global: number }>;
  /** Reconciler: lifts a day counter and its rank entry to the committed total; returns the lift. */
  raiseDay(clientId: string, day: string, total: number): Promise<number>;
  /** Reconciler: lifts an hour rank entry to the committed total; returns the lift. */
  raiseHour(clientId: string, hour: number, total: number): Promise<number>;
}

export const createCounters = (client: Redis, keys: Keys): Counters => {
  const redis: Redis & ScriptCommands = withScripts(client);

  const scriptArgs = (
    clientId: string,
    limit: number,
    hits: readonly CountedHit[],
    nowMs: number,
    force: boolean,
  ): Array<string | number> => {
    // The read window (and tomorrow: a hit may be stamped up to five minutes ahead).
    const today = Math.floor(nowMs / DAY_MS);
    const firstDay = today - DAILY_WINDOW_DAYS + 1;
    const firstHour = epochHour(nowMs) - TOP_WINDOW_HOURS;
    const args: Array<string | number> = [
      keys.clientPrefix(clientId),
      keys.rankPrefix,
      clientId,
      limit,
      QUOTA_TTL_S,
      DAY_TTL_S,
      HOUR_TTL_S,
      MARKER_TTL_S,
      force ? 1 : 0,
    ];
    for (const hit of hits) {
      const day = Math.floor(hit.ts / DAY_MS);
      const hour = epochHour(hit.ts);
      args.push(hit.eventId ?? "", hit.ts, day >= firstDay && day <= today + 1 ? utcDay(hit.ts) : "", hour >= firstHour ? hour : "");
    }
    return args;
  };
  const scriptKeys = (clientId: string, nowMs: number): [string, string, string] => [
    keys.quota(clientId, epochHour(nowMs)),
    keys.clientVersion(clientId),
    keys.globalVersion,
  ];

  return {
    async count(clientId, limit, hits, nowMs, force = false) {
      const reply = await redis.countHits(...scriptKeys(clientId, nowMs), ...scriptArgs(clientId, limit, hits, nowMs, force));
      const [accepted, used, ...marks] = reply;
      return {
        accepted: Number(accepted) === 1,
        used: Number(used),
        priorTs: accepted === 1 ? marks.map((mark) => (mark === "" ? null : Number(mark))) : [],
      };
    },
    async uncount(clientId, hits, countedAtMs) {
      if (hits.length === 0) return;
      await redis.uncountHits(...scriptKeys(clientId, countedAtMs), ...scriptArgs(clientId, 0, hits, countedAtMs, true));
    },
    async quotaUsed(clientId, nowMs) {
      return Number((await redis.get(keys.quota(clientId, epochHour(nowMs)))) ?? 0);
    },
    async dailyTotals(clientId, days) {
      const values = await redis.mget(days.map((day) => keys.day(clientId, day)));
      return values.map((value) => Math.max(0, Number(value ?? 0)));
    },
    async rank(rankKeys, count) {
      const scratch = keys.scratch(`${process.pid}:${Math.random().toString(36).slice(2)}`);
      const flat = await redis.rankRange(rankKeys.length + 1, scratch, ...rankKeys, 10_000, count);
      const rows: Array<{ clientId: string; total: number }> = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const total = -Number(flat[i + 1]);
        if (total > 0) rows.push({ clientId: String(flat[i]), total });
      }
      return rows;
    },
    async raiseDay(clientId, day, total) {
      return redis.raiseCounter(
        keys.day(clientId, day),
        keys.rankDay(day),
        keys.clientVersion(clientId),
        keys.globalVersion,
        clientId,
        DAY_TTL_S,
        total,
      );
    },
    async raiseHour(clientId, hour, total) {
      return redis.raiseRank(keys.rankHour(hour), keys.globalVersion, clientId, HOUR_TTL_S, total);
    },
    async versions(clientId) {
      const [client, global] = await redis.mget(clientId === null ? keys.globalVersion : keys.clientVersion(clientId), keys.globalVersion);
      return { client: Number(client ?? 0), global: Number(global ?? 0) };
    },
  };
};
