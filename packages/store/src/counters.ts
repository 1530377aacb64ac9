import { epochHour, GroupCommit } from "@usage/core";
import { bucketCallsOf } from "./bucket-calls.ts";
import { ALL_BUCKETS, bucketOf } from "./buckets.ts";
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
import { mergeRanked, type RankRow } from "./rank-merge.ts";
import type { RedisConnection } from "./redis.ts";
import { scriptsOf } from "./scripts.ts";

/** The rank zsets a ranking sums: days of the daily window, or hours of the top list's. */
export type RankWindow = { days: readonly string[] } | { hours: readonly number[] };

export interface Counters {
  /** Atomically checks the quota, marks event ids and bumps the live counters. */
  count(clientId: string, limit: number, hits: readonly CountedHit[], nowMs: number, force?: boolean): Promise<CountOutcome>;
  /** Reverses `count` for hits that could not be made durable. */
  uncount(clientId: string, hits: readonly CountedHit[], countedAtMs: number): Promise<void>;
  quotaUsed(clientId: string, nowMs: number): Promise<number>;
  dailyTotals(clientId: string, days: readonly string[]): Promise<number[]>;
  /** Every client's total over the window, (total desc, clientId asc), the first `count` (0 = all); zero totals left out. */
  rank(window: RankWindow, count: number): Promise<RankRow[]>;
  /** Moves whenever the client's counts change. */
  clientVersion(clientId: string): Promise<number>;
  /** Moves whenever any count changes: the sum of the buckets' version shares (keys.ts), each only ever bumped. */
  globalVersion(): Promise<number>;
  /** Reconciler: lifts a day counter and its rank entry to the committed total; returns the lift. */
  raiseDay(clientId: string, day: string, total: number): Promise<number>;
  /** Reconciler: lifts an hour rank entry to the committed total; returns the lift. */
  raiseHour(clientId: string, hour: number, total: number): Promise<number>;
}

/**
 * Buckets a ranking call sums on one node: 16 × 25 hour zsets is a few hundred µs of Redis
 * time per call (all 128 buckets in one call held Redis for milliseconds at a time).
 */
const RANK_BUCKETS_PER_CALL = 16;

/** A failed call fails its own requests only: on a cluster, the other buckets' calls stand. */
type Answer = CountOutcome | Error;

export const createCounters = (redis: RedisConnection, keys: Keys): Counters => {
  const scripts = scriptsOf(redis);
  const bucketCalls = bucketCallsOf(redis);
  const versionKeys = ALL_BUCKETS.map((bucket) => keys.versionShare(bucket));

  const countCall = async (requests: CountRequest[]): Promise<Answer[]> => {
    try {
      return decodeReply(await scripts.countHits(encodeCall(keys, requests)), requests);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      return requests.map(() => failure);
    }
  };

  const countGroup = async (requests: CountRequest[]): Promise<Answer[]> => {
    const calls = bucketCalls.group(requests, (request) => request.bucket);
    if (calls.length === 1) return countCall(calls[0] as CountRequest[]);
    const answers = await Promise.all(calls.map(countCall));
    const byRequest = new Map<CountRequest, Answer>();
    for (const [i, call] of calls.entries()) for (const [j, request] of call.entries()) byRequest.set(request, answers[i]?.[j] as Answer);
    return requests.map((request) => byRequest.get(request) as Answer);
  };

  // All the requests of an event-loop turn (more while a call is in flight) share one
  // round trip: one script call on one node, one per bucket on a cluster (bucket-calls.ts).
  const counting = new GroupCommit<CountRequest, Answer>({
    maxItems: MAX_GROUP_WORK,
    weigh: (request) => request.work,
    lingerMs: 0,
    maxInFlight: 2,
    flush: countGroup,
  });

  return {
    async count(clientId, limit, hits, nowMs, force = false) {
      const [answer] = await counting.add([encodeRequest(keys, clientId, limit, hits, nowMs, force)]);
      if (answer === undefined) throw new Error("counting script gave no answer for a request");
      if (answer instanceof Error) throw answer;
      return answer;
    },
    async uncount(clientId, hits, countedAtMs) {
      if (hits.length === 0) return;
      // The same encoding as the count it takes back, in the hour that count was made.
      await scripts.uncountHits(encodeCall(keys, [encodeRequest(keys, clientId, 0, hits, countedAtMs)]));
    },
    async quotaUsed(clientId, nowMs) {
      return Number((await redis.get(keys.quota(clientId, epochHour(nowMs)))) ?? 0);
    },
    async dailyTotals(clientId, days) {
      if (days.length === 0) return [];
      const values = await redis.mget(days.map((day) => keys.day(clientId, day)));
      return values.map((value) => Math.max(0, Number(value ?? 0)));
    },
    async rank(window, count) {
      const zsets = (bucket: number): string[] =>
        "days" in window ? window.days.map((day) => keys.rankDay(bucket, day)) : window.hours.map((hour) => keys.rankHour(bucket, hour));
      const lists = await Promise.all(
        bucketCalls
          .group(ALL_BUCKETS, (bucket) => bucket, RANK_BUCKETS_PER_CALL)
          .map(async (buckets) => {
            const rankKeys = buckets.flatMap(zsets);
            const flat = await scripts.rankRange(rankKeys, count);
            const rows: RankRow[] = [];
            for (let i = 0; i + 1 < flat.length; i += 2) {
              const total = -Number(flat[i + 1]);
              if (total > 0) rows.push({ clientId: String(flat[i]), total });
            }
            return rows;
          }),
      );
      return mergeRanked(lists, count);
    },
    async clientVersion(clientId) {
      return Number((await redis.get(keys.clientVersion(clientId))) ?? 0);
    },
    async globalVersion() {
      let sum = 0;
      for (const value of await bucketCalls.getAll(versionKeys)) sum += Number(value ?? 0);
      return sum;
    },
    async raiseDay(clientId, day, total) {
      const bucket = bucketOf(clientId);
      return scripts.raiseCounter(
        [keys.day(clientId, day), keys.rankDay(bucket, day), keys.clientVersion(clientId), keys.versionShare(bucket)],
        clientId,
        DAY_TTL_S,
        total,
      );
    },
    async raiseHour(clientId, hour, total) {
      const bucket = bucketOf(clientId);
      return scripts.raiseRank([keys.rankHour(bucket, hour), keys.versionShare(bucket)], clientId, HOUR_TTL_S, total);
    },
  };
};
