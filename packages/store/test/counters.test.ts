import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCounters } from "../src/counters.ts";
import { createKeys } from "../src/keys.ts";

describe("counting script on a real Redis", () => {
  const prefix = `t_counters_${randomUUID()}`;
  const keys = createKeys(prefix);
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  });
  afterAll(async () => {
    const found = await redis.keys(`${prefix}:*`);
    if (found.length > 0) await redis.del(...found);
    redis.disconnect();
  });

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
    const all = await redis.keys(`${prefix}:*`);
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
});
