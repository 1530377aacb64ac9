import { randomUUID } from "node:crypto";
import { DAY_MS, epochHour, utcDay } from "@usage/core";
import { type PrivateRedisCluster, startPrivateRedisCluster } from "@usage/testkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketOf } from "../src/buckets.ts";
import { createCounters } from "../src/counters.ts";
import { createKeys } from "../src/keys.ts";
import { createRedis, type RedisConnection, waitReady } from "../src/redis.ts";
import { slotOf } from "../src/topology.ts";

/** Its own cluster, not the run's: this file puts a slot in the middle of a migration. */
describe("counting while a bucket's slot is being migrated", () => {
  let cluster: PrivateRedisCluster;
  let redis: RedisConnection;
  const keys = createKeys(`t_${randomUUID().slice(0, 8)}`);
  const node = (port: number): Redis => new Redis({ port, host: "127.0.0.1" });

  beforeAll(async () => {
    cluster = await startPrivateRedisCluster();
    redis = createRedis(
      { redisUrl: "redis://unused:1", redisClusterNodes: cluster.nodes.map(({ port }) => ({ host: "127.0.0.1", port })) },
      "command",
    );
    await waitReady(redis);
  });
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });

  it("refuses a call that would create keys before it writes anything, and counts it once the slot is stable", async () => {
    const counters = createCounters(redis, keys);
    const client = randomUUID();
    const now = Date.now();
    // The client's keys of today and of this hour exist; yesterday's do not.
    await counters.count(client, 100, [{ eventId: null, ts: now }], now);
    const slot = slotOf(keys.versionShare(bucketOf(client)));
    const source = await cluster.primaryOf(slot);
    const target = (await cluster.primaries()).find((primary) => primary.port !== source.port);
    if (target === undefined) throw new Error("no second primary");
    const [from, to] = [node(source.port), node(target.port)];
    const [fromId, toId] = [String(await from.call("CLUSTER", "MYID")), String(await to.call("CLUSTER", "MYID"))];
    await to.call("CLUSTER", "SETSLOT", slot, "IMPORTING", fromId);
    await from.call("CLUSTER", "SETSLOT", slot, "MIGRATING", toId);
    try {
      // Yesterday's day counter and rank entry would be new keys, which a migrating slot refuses.
      const yesterday = now - DAY_MS;
      await expect(counters.count(client, 100, [{ eventId: null, ts: yesterday }], now)).rejects.toThrow(/non local key/);
    } finally {
      for (const conn of [from, to]) await conn.call("CLUSTER", "SETSLOT", slot, "STABLE");
      from.disconnect();
      to.disconnect();
    }
    // Read once the slot is stable (a multi-key read of a migrating slot is refused too).
    const version = await counters.clientVersion(client);
    expect(await counters.quotaUsed(client, now)).toBe(1);
    expect(await counters.dailyTotals(client, [utcDay(now - DAY_MS), utcDay(now)])).toEqual([0, 1]);
    expect(await counters.count(client, 100, [{ eventId: null, ts: now - DAY_MS }], now)).toMatchObject({ accepted: true, used: 2 });
    expect(await redis.get(keys.quota(client, epochHour(now)))).toBe("2");
    expect(await counters.clientVersion(client)).toBe(version + 1);
  });
});
