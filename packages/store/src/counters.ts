import { epochHour, GroupCommit } from "@usage/core";
import {
  type CountedHit,
  type CountOutcome,
  type CountRequest,
  DAY_TTL_S,
  decodeReply,
  encodeCall,
  encodeRequest,
  HOUR_TTL_S,
  MAX_GROUP_WORK,
} from "./count-protocol.ts";
import type { Keys } from "./keys.ts";
import type { RedisConnection } from "./redis.ts";
import { type ScriptCommands, withScripts } from "./scripts.ts";

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

export const createCounters = (client: RedisConnection, keys: Keys): Counters => {
  const redis: RedisConnection & ScriptCommands = withScripts(client);

  const countGroup = async (requests: CountRequest[]): Promise<CountOutcome[]> =>
    decodeReply(await redis.countHits(...encodeCall(keys, requests)), requests);

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
      const [outcome] = await counting.add([encodeRequest(keys, clientId, limit, hits, nowMs, force)]);
      if (outcome === undefined) throw new Error("counting script gave no answer for a request");
      return outcome;
    },
    async uncount(clientId, hits, countedAtMs) {
      if (hits.length === 0) return;
      // The same encoding as the count it takes back, in the hour that count was made.
      await redis.uncountHits(...encodeCall(keys, [encodeRequest(keys, clientId, 0, hits, countedAtMs)]));
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
