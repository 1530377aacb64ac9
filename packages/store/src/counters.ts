import { DAY_MS, epochHour, GroupCommit, HOUR_MS, utcDay } from "@usage/core";
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

interface CountRequest {
  /** This request's part of the script's arguments, built before it joins a group. */
  args: Array<string | number>;
  hits: readonly CountedHit[];
  /** Roughly the Redis commands the script runs for it. */
  work: number;
}

/**
 * Script work per call at most: a call blocks Redis while it runs, so a group stays
 * around a millisecond or two of script time (an event id costs a GET and a SET, a bucket
 * a few increments).
 */
const MAX_GROUP_WORK = 2000;

export const createCounters = (client: Redis, keys: Keys): Counters => {
  const redis: Redis & ScriptCommands = withScripts(client);

  /**
   * nEvents, nBuckets, then eventId, ts, day and hour of each hit with an event id, then
   * day, hour and count of the others: those need no marker, so a 500-hit batch of one
   * hour costs the script three arguments instead of two thousand. Day and hour are empty
   * outside the read windows.
   */
  const pushHitArgs = (args: Array<string | number>, hits: readonly CountedHit[], nowMs: number): number => {
    // The read window (and tomorrow: a hit may be stamped up to five minutes ahead).
    const today = Math.floor(nowMs / DAY_MS);
    const firstDay = today - DAILY_WINDOW_DAYS + 1;
    const firstHour = epochHour(nowMs) - TOP_WINDOW_HOURS;
    // A hit's day follows from its hour, so the hour alone keys a bucket.
    const place = (ts: number, hourNumber: number): [string, number | ""] => {
      const dayNumber = Math.floor(hourNumber / 24);
      return [dayNumber >= firstDay && dayNumber <= today + 1 ? utcDay(ts) : "", hourNumber >= firstHour ? hourNumber : ""];
    };
    const events: Array<string | number> = [];
    const buckets = new Map<number, [string, number | "", number]>();
    for (const hit of hits) {
      const hourNumber = epochHour(hit.ts);
      if (hit.eventId !== null) {
        events.push(hit.eventId, hit.ts, ...place(hit.ts, hourNumber));
        continue;
      }
      const bucket = buckets.get(hourNumber);
      if (bucket === undefined) buckets.set(hourNumber, [...place(hit.ts, hourNumber), 1]);
      else bucket[2]++;
    }
    args.push(events.length / 4, buckets.size);
    for (const value of events) args.push(value);
    for (const bucket of buckets.values()) args.push(...bucket);
    return 2 + events.length / 2 + buckets.size * 4;
  };

  const countGroup = async (requests: CountRequest[]): Promise<CountOutcome[]> => {
    const args: Array<string | number> = [keys.rankPrefix, QUOTA_TTL_S, DAY_TTL_S, HOUR_TTL_S, MARKER_TTL_S, keys.globalVersion];
    for (const request of requests) for (const arg of request.args) args.push(arg);
    const reply = await redis.countHits(...args);
    let at = 0;
    return requests.map(({ hits }) => {
      const accepted = Number(reply[at]) === 1;
      const used = Number(reply[at + 1]);
      at += 2;
      if (!accepted) return { accepted, used, priorTs: [] };
      // Marks come back for the hits with an event id only, in order; the others are new.
      const priorTs = hits.map((hit) => {
        if (hit.eventId === null) return null;
        const mark = reply[at++];
        return mark === "" ? null : Number(mark);
      });
      return { accepted, used, priorTs };
    });
  };

  // All the requests of an event-loop turn (more while a call is in flight) share one
  // script call: one Redis round trip and one script run instead of one per request.
  const counting = new GroupCommit<CountRequest, CountOutcome>({
    maxItems: MAX_GROUP_WORK,
    weigh: (request) => request.work,
    lingerMs: 0,
    maxInFlight: 2,
    flush: countGroup,
  });

  return {
    async count(clientId, limit, hits, nowMs, force = false) {
      // Built here, so a request that cannot be encoded fails alone, not its whole group.
      const args: Array<string | number> = [
        keys.clientPrefix(clientId),
        keys.quota(clientId, epochHour(nowMs)),
        clientId,
        limit,
        force ? 1 : 0,
      ];
      const work = pushHitArgs(args, hits, nowMs);
      const [outcome] = await counting.add([{ args, hits, work }]);
      if (outcome === undefined) throw new Error("counting script gave no answer for a request");
      return outcome;
    },
    async uncount(clientId, hits, countedAtMs) {
      if (hits.length === 0) return;
      const args: Array<string | number> = [keys.clientPrefix(clientId), keys.rankPrefix, clientId];
      void pushHitArgs(args, hits, countedAtMs);
      await redis.uncountHits(keys.quota(clientId, epochHour(countedAtMs)), keys.clientVersion(clientId), keys.globalVersion, ...args);
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
