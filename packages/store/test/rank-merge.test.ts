import { randomUUID } from "node:crypto";
import { epochHour, HOUR_MS, utcDay } from "@usage/core";
import { createRedisTestEnv, type RedisTestEnv } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALL_BUCKETS } from "../src/buckets.ts";
import { createCounters } from "../src/counters.ts";
import { createKeys } from "../src/keys.ts";
import { mergeRanked, type RankRow } from "../src/rank-merge.ts";
import { scriptsOf } from "../src/scripts.ts";

/** The API's order, computed the plain way. */
const bruteForceTop = (totals: ReadonlyMap<string, number>, count: number): RankRow[] => {
  const rows = [...totals].map(([clientId, total]) => ({ clientId, total })).filter((row) => row.total > 0);
  rows.sort((x, y) => y.total - x.total || (x.clientId < y.clientId ? -1 : x.clientId > y.clientId ? 1 : 0));
  return count === 0 ? rows : rows.slice(0, count);
};

describe("merging per-bucket rankings", () => {
  it("keeps the global order, ties by client_id, from lists each in rank order", () => {
    const lists = [
      [
        { clientId: "c", total: 5 },
        { clientId: "e", total: 3 },
      ],
      [
        { clientId: "a", total: 5 },
        { clientId: "d", total: 3 },
        { clientId: "f", total: 1 },
      ],
      [],
      [{ clientId: "b", total: 5 }],
    ];
    expect(mergeRanked(lists, 4).map((row) => row.clientId)).toEqual(["a", "b", "c", "d"]);
    expect(mergeRanked(lists, 0).map((row) => row.clientId)).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(mergeRanked([], 3)).toEqual([]);
  });
});

describe("the top list from buckets on a real Redis", () => {
  const env: RedisTestEnv = createRedisTestEnv();
  // A prefix of its own: only this test's clients are ranked.
  const keys = createKeys(`${env.prefix}:top`);
  const counters = createCounters(env.redis, keys);
  const now = Date.now();
  const hours = Array.from({ length: 25 }, (_, i) => epochHour(now) - 24 + i);
  const byHour = new Map<string, number>();
  const today = new Map<string, number>();
  afterAll(async () => env.cleanup());

  beforeAll(async () => {
    // 600 clients over every bucket, totals from a narrow range so ties are everywhere, some
    // hits outside the window (25 hours back) and some on yesterday.
    const clients = Array.from({ length: 600 }, () => randomUUID());
    await Promise.all(
      clients.map(async (client, i) => {
        const hits = Array.from({ length: 1 + ((i * 7) % 6) }, (_, j) => ({ eventId: null, ts: now - ((i + j) % 27) * HOUR_MS }));
        const outcome = await counters.count(client, 1_000, hits, now);
        expect(outcome.accepted).toBe(true);
        for (const hit of hits) {
          if (epochHour(hit.ts) >= hours[0]!) byHour.set(client, (byHour.get(client) ?? 0) + 1);
          if (utcDay(hit.ts) === utcDay(now)) today.set(client, (today.get(client) ?? 0) + 1);
        }
      }),
    );
  });

  it("equals a brute-force ranking, for every size asked, for hours and for days", async () => {
    for (const count of [1, 3, 10, 100, 0]) {
      expect(await counters.rank({ hours }, count)).toEqual(bruteForceTop(byHour, count));
      expect(await counters.rank({ days: [utcDay(now)] }, count)).toEqual(bruteForceTop(today, count));
    }
  });

  it("is exact when merged from each bucket's own top N, as on a cluster", async () => {
    const scripts = scriptsOf(env.redis);
    for (const count of [1, 3, 10]) {
      const perBucket = await Promise.all(
        ALL_BUCKETS.map(async (bucket) => {
          const zsets = hours.map((hour) => keys.rankHour(bucket, hour));
          const flat = await scripts.rankRange(zsets, count);
          const rows: RankRow[] = [];
          for (let i = 0; i + 1 < flat.length; i += 2) rows.push({ clientId: String(flat[i]), total: -Number(flat[i + 1]) });
          return rows;
        }),
      );
      expect(perBucket.every((rows) => rows.length <= count)).toBe(true);
      expect(mergeRanked(perBucket, count)).toEqual(bruteForceTop(byHour, count));
    }
  });
});
