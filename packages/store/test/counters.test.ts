import { randomUUID } from "node:crypto";
import { epochHour, utcDay } from "@usage/core";
import { connectTestRedis, createRedisTestEnv, type RedisTestEnv, startPrivateRedis } from "@usage/testkit";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { bucketOf } from "../src/buckets.ts";
import { createCounters } from "../src/counters.ts";
import { createKeys } from "../src/keys.ts";
import { scanKeys } from "../src/topology.ts";
import { clientInBucket } from "./bucket-clients.ts";

describe("counting script on a real Redis", () => {
  const env: RedisTestEnv = createRedisTestEnv();
  const { redis, prefix } = env;
  const keys = createKeys(prefix);
  afterAll(async () => env.cleanup());

  it("gives every key it creates a TTL, so nothing outlives its window", async () => {
    const counters = createCounters(redis, keys);
    const now = Date.now();
    const client = randomUUID();
    await counters.count(
      client,
      100,
      [
        { eventId: randomUUID(), ts: now },
        { eventId: null, ts: now - 86_400_000 },
      ],
      now,
    );
    await counters.count(client, 100, [{ eventId: null, ts: now }], now);
    const all: string[] = [];
    for await (const batch of scanKeys(redis, `${prefix}:*`)) all.push(...batch);
    expect(all.length).toBeGreaterThanOrEqual(7);
    for (const key of all.filter((k) => !k.endsWith(":v"))) expect(await redis.ttl(key), key).toBeGreaterThan(0);
  });

  it("is exact under concurrency: Q of N concurrent single hits pass", async () => {
    const counters = createCounters(redis, keys);
    const client = randomUUID();
    const now = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => counters.count(client, 10, [{ eventId: null, ts: now }], now)));
    expect(outcomes.filter((o) => o.accepted)).toHaveLength(10);
    expect(await counters.quotaUsed(client, now)).toBe(10);
  });

  it("is exact across gateways too: two counters on their own connections, calls interleaved over turns", async () => {
    const other = connectTestRedis();
    try {
      const gateways = [createCounters(redis, keys), createCounters(other, keys)];
      const client = randomUUID();
      const now = Date.now();
      const outcomes: Array<Promise<{ accepted: boolean }>> = [];
      for (let turn = 0; turn < 10; turn++) {
        for (let i = 0; i < 6; i++)
          outcomes.push((gateways[i % 2] as (typeof gateways)[number]).count(client, 25, [{ eventId: null, ts: now }], now));
        // A new event-loop turn while earlier calls are still in flight.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const accepted = (await Promise.all(outcomes)).filter((o) => o.accepted);
      expect(accepted).toHaveLength(25);
      expect(await gateways[0]?.quotaUsed(client, now)).toBe(25);
    } finally {
      other.disconnect();
    }
  });

  it("uncount takes back exactly what count added: quota, day totals, ranks and event markers", async () => {
    const counters = createCounters(redis, keys);
    const now = Date.now();
    const client = randomUUID();
    const ev = randomUUID();
    const hits = [
      { eventId: ev, ts: now },
      { eventId: null, ts: now },
      { eventId: null, ts: now - 3_600_000 },
      { eventId: null, ts: now - 86_400_000 },
    ];
    const counted = await counters.count(client, 100, hits, now);
    expect(counted).toEqual({ accepted: true, used: 4, priorTs: [null, null, null, null] });
    const days = [utcDay(now - 86_400_000), utcDay(now)];
    const dayBefore = await counters.dailyTotals(client, days);
    expect(dayBefore.reduce((a, b) => a + b, 0)).toBe(4);
    await counters.uncount(client, hits, now);
    expect(await counters.quotaUsed(client, now)).toBe(0);
    expect(await counters.dailyTotals(client, days)).toEqual([0, 0]);
    expect(await counters.rank({ days: [utcDay(now)] }, 0)).not.toContainEqual(expect.objectContaining({ clientId: client }));
    const hours = [epochHour(now), epochHour(now - 3_600_000)];
    expect(await counters.rank({ hours }, 0)).not.toContainEqual(expect.objectContaining({ clientId: client }));
    // The marker is gone: the same event id counts as new again.
    expect((await counters.count(client, 100, [{ eventId: ev, ts: now }], now)).priorTs).toEqual([null]);
  });

  it("counts the requests of one turn on one node, of clients of several buckets, in one script call, each all or nothing and in order", async () => {
    // A private server, so its command statistics are this test's alone.
    const own = await startPrivateRedis();
    const conn = new Redis(own.url);
    try {
      const counters = createCounters(conn, keys);
      const now = Date.now();
      const a = randomUUID();
      const b = clientInBucket((bucketOf(a) + 1) % 128);
      const ev = randomUUID();
      const [a1, b1, a2, a3, b2] = await Promise.all([
        counters.count(
          a,
          3,
          [
            { eventId: ev, ts: now },
            { eventId: null, ts: now },
          ],
          now,
        ),
        counters.count(b, 5, [{ eventId: ev, ts: now - 1 }], now),
        // Would go over a's quota after a1: refused whole, nothing counted.
        counters.count(
          a,
          3,
          [
            { eventId: null, ts: now },
            { eventId: null, ts: now },
          ],
          now,
        ),
        // a's event id again: a duplicate of a1's copy, which costs no quota.
        counters.count(a, 3, [{ eventId: ev, ts: now + 5 }], now),
        counters.count(b, 5, [{ eventId: ev, ts: now }], now),
      ]);
      expect(a1).toEqual({ accepted: true, used: 2, priorTs: [null, null] });
      expect(b1).toEqual({ accepted: true, used: 1, priorTs: [null] });
      expect(a2).toEqual({ accepted: false, used: 2, priorTs: [] });
      expect(a3).toEqual({ accepted: true, used: 2, priorTs: [now] });
      expect(b2).toEqual({ accepted: true, used: 1, priorTs: [now - 1] });
      const stats = await conn.info("commandstats");
      const stat = (name: string, field: string): number => Number(new RegExp(`cmdstat_${name}:.*?${field}=(\\d+)`).exec(stats)?.[1] ?? 0);
      // One script run. A fresh server lacks the script: EVALSHA fails (NOSCRIPT), EVAL runs it.
      expect(stat("evalsha", "failed_calls")).toBe(1);
      expect(stat("evalsha", "calls") - stat("evalsha", "failed_calls") + stat("eval", "calls")).toBe(1);
      expect(await counters.dailyTotals(a, [utcDay(now)])).toEqual([2]);

      // Marks come back for event-id hits only: a mixed request after a refused one stays aligned.
      const [ev1, ev2] = [randomUUID(), randomUUID()];
      const [refused, mixed] = await Promise.all([
        counters.count(
          b,
          5,
          Array.from({ length: 9 }, () => ({ eventId: null, ts: now })),
          now,
        ),
        counters.count(
          b,
          5,
          [
            { eventId: null, ts: now },
            { eventId: ev1, ts: now + 1 },
            { eventId: null, ts: now },
            { eventId: ev1, ts: now + 2 },
            { eventId: ev2, ts: now + 3 },
          ],
          now,
        ),
      ]);
      expect(refused).toEqual({ accepted: false, used: 1, priorTs: [] });
      expect(mixed).toEqual({ accepted: true, used: 5, priorTs: [null, null, null, now + 1, null] });
    } finally {
      conn.disconnect();
      await own.stop();
    }
  });
});
