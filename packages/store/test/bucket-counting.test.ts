import { randomUUID } from "node:crypto";
import { epochHour, HOUR_MS, utcDay } from "@usage/core";
import { createRedisTestEnv, type RedisTestEnv, TEST_REDIS_URL, testClusterNodes } from "@usage/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { BUCKETS, bucketOf } from "../src/buckets.ts";
import type { CountedHit } from "../src/count-protocol.ts";
import { createCounters } from "../src/counters.ts";
import { createKeys } from "../src/keys.ts";
import { createRedis, waitReady } from "../src/redis.ts";
import { clientInBucket } from "./bucket-clients.ts";

const tagOf = (key: string): string | undefined => /\{([^}]*)\}/.exec(key)?.[1];

/** A connection as the gateway makes it (auto-pipelined, failing fast), to the run's Redis or cluster. */
const gatewayConnection = () =>
  createRedis(
    {
      redisUrl: TEST_REDIS_URL,
      redisClusterNodes: testClusterNodes()
        ?.split(",")
        .map((node) => ({ host: node.slice(0, node.lastIndexOf(":")), port: Number(node.slice(node.lastIndexOf(":") + 1)) })),
    },
    "command",
  );

describe("counting in buckets on a real Redis", () => {
  const env: RedisTestEnv = createRedisTestEnv();
  const { redis, prefix } = env;
  const keys = createKeys(prefix);
  const counters = createCounters(redis, keys);
  afterAll(async () => env.cleanup());

  /** Everything Redis holds about a client's counts now, to compare before and after. */
  const traceOf = async (clientId: string, nowMs: number, eventIds: readonly string[]) => {
    const bucket = bucketOf(clientId);
    const [day, hour] = [utcDay(nowMs), epochHour(nowMs)];
    return {
      quota: await redis.get(keys.quota(clientId, hour)),
      day: await redis.get(keys.day(clientId, day)),
      rankDay: await redis.zscore(keys.rankDay(bucket, day), clientId),
      rankHour: await redis.zscore(keys.rankHour(bucket, hour), clientId),
      version: await redis.get(keys.clientVersion(clientId)),
      versionShare: await redis.get(keys.versionShare(bucket)),
      markers: await Promise.all(eventIds.map((ev) => redis.get(`${keys.clientPrefix(clientId)}ev:${ev}`))),
    };
  };

  it("puts a client's keys and its bucket's rank zsets and version under one hash tag, the bucket's", () => {
    // CRC-32 (IEEE) mod 128, as any language's zlib computes it: pinned so a change of hash shows.
    expect(bucketOf("00000000-0000-4000-8000-000000000000")).toBe(23);
    expect(bucketOf("ffffffff-ffff-4fff-bfff-ffffffffffff")).toBe(70);
    const client = randomUUID();
    const bucket = bucketOf(client);
    const clientKeys = [
      keys.quota(client, 1),
      keys.day(client, "2026-01-01"),
      keys.clientVersion(client),
      `${keys.clientPrefix(client)}ev:x`,
      keys.cache("client", client, "daily"),
    ];
    const bucketKeys = [keys.versionShare(bucket), keys.rankDay(bucket, "2026-01-01"), keys.rankHour(bucket, 1)];
    for (const key of [...clientKeys, ...bucketKeys]) expect(tagOf(key), key).toBe(`b${bucket}`);
    for (const key of bucketKeys) expect(key.startsWith(keys.bucketPrefix(bucket))).toBe(true);
  });

  it("lands each client's counts exactly when one turn counts for clients of every bucket", async () => {
    const gateway = gatewayConnection();
    await waitReady(gateway);
    const counting = createCounters(gateway, keys);
    const now = Date.now();
    const clients = Array.from({ length: 3 * BUCKETS }, (_, i) => clientInBucket(i % BUCKETS));
    const sent = clients.map((_, i) => 1 + (i % 5));
    const hitsOf = (i: number): CountedHit[] =>
      Array.from({ length: sent[i] as number }, (_, j) => ({ eventId: j % 2 === 0 ? randomUUID() : null, ts: now - (j % 2) * HOUR_MS }));
    const globalBefore = await counters.globalVersion();

    const outcomes = await Promise.all(clients.map((client, i) => counting.count(client, 100, hitsOf(i), now)));
    gateway.disconnect();

    expect(outcomes.every((outcome) => outcome.accepted)).toBe(true);
    expect(outcomes.map((outcome) => outcome.used)).toEqual(sent);
    for (const [i, client] of clients.entries()) {
      expect(await counters.quotaUsed(client, now)).toBe(sent[i]);
      expect((await counters.dailyTotals(client, [utcDay(now)]))[0]).toBe(sent[i]);
    }
    const hours = [epochHour(now) - 1, epochHour(now)];
    const ranked = new Map((await counters.rank({ hours }, 0)).map((row) => [row.clientId, row.total]));
    for (const [i, client] of clients.entries()) expect(ranked.get(client), client).toBe(sent[i]);
    expect(await counters.globalVersion()).toBeGreaterThan(globalBefore);
  });

  it("leaves nothing half-written when a call fails on a later request of its group", async () => {
    const now = Date.now();
    // a and c share a bucket (so one call on every topology), b is in another.
    const a = randomUUID();
    const b = clientInBucket((bucketOf(a) + 1) % BUCKETS);
    const c = clientInBucket(bucketOf(a));
    const [evA, evB, evC] = [randomUUID(), randomUUID(), randomUUID()];
    // c's quota key holds the wrong type: the call trips on it after a's and b's parts.
    await redis.hset(keys.quota(c, epochHour(now)), "x", "1");
    const before = { a: await traceOf(a, now, [evA]), b: await traceOf(b, now, [evB]) };

    const settled = await Promise.allSettled([
      counters.count(a, 100, [{ eventId: evA, ts: now }], now),
      counters.count(b, 100, [{ eventId: evB, ts: now }], now),
      counters.count(c, 100, [{ eventId: evC, ts: now }], now),
    ]);

    expect(settled[2]).toMatchObject({
      status: "rejected",
      reason: expect.objectContaining({ message: expect.stringContaining("WRONGTYPE") }),
    });
    // a went in c's call: refused with it, and not one of its writes stayed.
    expect(settled[0]?.status).toBe("rejected");
    expect(await traceOf(a, now, [evA])).toEqual(before.a);
    // b went in the same call on one node (refused likewise), in a call of its own on a cluster.
    if (redis.isCluster) expect(settled[1]).toMatchObject({ status: "fulfilled", value: { accepted: true, used: 1 } });
    else {
      expect(settled[1]?.status).toBe("rejected");
      expect(await traceOf(b, now, [evB])).toEqual(before.b);
    }

    // Nothing was marked: once the bad key is gone, the same event ids count as new, once.
    await redis.del(keys.quota(c, epochHour(now)));
    const again = await Promise.all([
      counters.count(a, 100, [{ eventId: evA, ts: now }], now),
      counters.count(c, 100, [{ eventId: evC, ts: now }], now),
    ]);
    expect(again).toEqual([
      { accepted: true, used: 1, priorTs: [null] },
      { accepted: true, used: 1, priorTs: [null] },
    ]);
    expect(await counters.dailyTotals(a, [utcDay(now)])).toEqual([1]);
  });

  it("leaves nothing of an accepted request when a later request of the same client trips in the same call", async () => {
    const now = Date.now();
    const client = randomUUID();
    const [ev1, ev2] = [randomUUID(), randomUUID()];
    await redis.rpush(`${keys.clientPrefix(client)}ev:${ev2}`, "not a marker");
    const before = await traceOf(client, now, [ev1]);

    const settled = await Promise.allSettled([
      counters.count(client, 100, [{ eventId: ev1, ts: now }], now),
      counters.count(client, 100, [{ eventId: ev2, ts: now }], now),
    ]);

    expect(settled.map((outcome) => outcome.status)).toEqual(["rejected", "rejected"]);
    expect(await traceOf(client, now, [ev1])).toEqual(before);
  });
});
