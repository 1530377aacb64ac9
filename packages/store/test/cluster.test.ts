import { randomUUID } from "node:crypto";
import { type PrivateRedisCluster, startPrivateRedisCluster } from "@usage/testkit";
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUCKETS } from "../src/buckets.ts";
import { createCounters } from "../src/counters.ts";
import { createHitQueues, type HitQueues } from "../src/hit-queues.ts";
import { createKeys } from "../src/keys.ts";
import { publish, subscribe } from "../src/pubsub.ts";
import { type HitBatchJob, hitQueuePlaces } from "../src/queue.ts";
import { createRedis, isCluster, type RedisConnection, waitReady } from "../src/redis.ts";
import { hitShardPlacement } from "../src/shard-placement.ts";
import { scanKeys, slotOf, unlinkKeys, unlinkPrefix } from "../src/topology.ts";

const hit = (): HitBatchJob["hits"][number] => [randomUUID(), randomUUID(), Date.now(), Date.now(), "192.0.2.1", "GET", 200, "/x"];

/** The hits of every job in the shards, by hit id. */
const queuedHitIds = async (queues: HitQueues): Promise<Set<string>> => {
  const jobs = (await Promise.all(queues.shards.map((shard) => shard.getJobs(["waiting", "active", "delayed"])))).flat();
  return new Set(jobs.flatMap((job) => job.data.hits.map((h) => h[1])));
};

/** Its own cluster, not the run's: this file kills nodes. */
describe("Redis layer on a Redis Cluster", () => {
  let cluster: PrivateRedisCluster;
  let redis: RedisConnection;
  const prefix = `t_${randomUUID().slice(0, 8)}`;
  const keys = createKeys(prefix);
  const target = () => ({
    redisUrl: "redis://unused:1",
    redisClusterNodes: cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
  });

  beforeAll(async () => {
    cluster = await startPrivateRedisCluster();
    redis = createRedis(target(), "command", { enableAutoPipelining: false });
    await waitReady(redis);
  });
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });

  it("is a Cluster when REDIS_CLUSTER_NODES is set, and one node otherwise", () => {
    expect(isCluster(redis)).toBe(true);
    const node = createRedis({ redisUrl: "redis://127.0.0.1:1", redisClusterNodes: undefined }, "command");
    expect(isCluster(node)).toBe(false);
    node.disconnect();
  });

  it("puts three hit shards on three primaries, the other queues on tags of their own", async () => {
    const places = hitQueuePlaces(keys, 3);
    expect(places.map((place) => place.name)).toEqual(["hits", "hits-1", "hits-2"]);
    const owners = await Promise.all(places.map(async (place) => (await cluster.primaryOf(slotOf(place.prefix))).address));
    expect(new Set(owners).size).toBe(3);
    const queues = createHitQueues(redis, keys, 3);
    const placement = await hitShardPlacement(redis, queues);
    expect(placement?.spread).toBe(true);
    expect(placement?.placements.map((p) => p.primary).sort()).toEqual([...owners].sort());
    await queues.close();
  });

  it("scans every primary and unlinks keys of many slots", async () => {
    const written = Array.from({ length: 50 }, (_, i) => `${prefix}:scan:{${i}}`);
    for (const key of written) await redis.set(key, "1");
    const found: string[] = [];
    for await (const batch of scanKeys(redis, `${prefix}:scan:*`)) found.push(...batch);
    expect(found.sort()).toEqual([...written].sort());
    expect(await unlinkKeys(redis, written)).toBe(50);
    await redis.set(`${prefix}:left:{a}`, "1");
    await unlinkPrefix(redis, `${prefix}:`);
    expect(await redis.exists(`${prefix}:left:{a}`)).toBe(0);
  });

  it("reads the global version as the sum of every bucket's share, whatever primary holds it", async () => {
    const counters = createCounters(redis, keys);
    await redis.set(keys.versionShare(0), "7");
    await redis.set(keys.versionShare(BUCKETS - 1), "5");
    expect(await counters.globalVersion()).toBe(12);
  });

  it("carries change events on sharded pub/sub", async () => {
    const subscriber = createRedis(target(), "subscriber");
    const received: string[] = [];
    await subscribe(subscriber, keys.updatesChannel, (message) => received.push(message));
    const other: string[] = [];
    await subscribe(subscriber, keys.clientsChannel, (message) => other.push(message));
    await publish(redis, keys.updatesChannel, "one");
    await publish(redis, keys.clientsChannel, "two");
    await expect.poll(() => [received, other]).toEqual([["one"], ["two"]]);
    subscriber.disconnect();
  });

  it("acknowledges an add once a replica has it, and spreads adds over the shards", async () => {
    const queues = createHitQueues(redis, keys, 3);
    for (let i = 0; i < 6; i++) await queues.add({ v: 1, hits: [hit()] });
    expect((await Promise.all(queues.shards.map((shard) => shard.getWaitingCount()))).sort()).toEqual([2, 2, 2]);
    expect((await queues.counts("waiting")).waiting).toBe(6);
    for (const shard of queues.shards) await shard.obliterate({ force: true });
    await queues.close();
  });

  it("rejects an add no replica confirmed, then passes that shard over while others can take batches", async () => {
    const queues = createHitQueues(redis, keys, 3, { replicaAckMs: 200 });
    const [first] = queues.shards;
    const primary = await cluster.primaryOf(slotOf(first?.opts.prefix as string));
    const replicaPort = Number(
      String(
        await (redis as Cluster)
          .nodes("master")
          .find((node) => node.options.port === primary.port)
          ?.info("replication"),
      ).match(/slave0:ip=[^,]+,port=(\d+)/)?.[1],
    );
    const replica = cluster.nodes.find((node) => node.port === replicaPort);
    expect(replica).toBeDefined();
    await cluster.kill(replica as (typeof cluster.nodes)[number]);
    try {
      // The first add goes to the first shard, whose primary has no replica now.
      await expect(queues.add({ v: 1, hits: [hit()] })).rejects.toThrow(/no replica confirmed/);
      // The next ones go to the other shards only.
      for (let i = 0; i < 4; i++) await queues.add({ v: 1, hits: [hit()] });
      expect(await first?.getWaitingCount()).toBe(1);
    } finally {
      await cluster.restart(replica as (typeof cluster.nodes)[number]);
    }
    for (const shard of queues.shards) await shard.obliterate({ force: true });
    await queues.close();
  });

  it("loses no acknowledged add when a primary is killed in the middle of them", async () => {
    const queues = createHitQueues(redis, keys, 3);
    const acknowledged: string[] = [];
    let refused = 0;
    let stop = false;
    const producer = (async () => {
      while (!stop) {
        const job = { v: 1 as const, hits: [hit()] };
        try {
          await queues.add(job);
          acknowledged.push(job.hits[0]?.[1] as string);
        } catch {
          refused += 1; // the gateway spools these
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    })();
    await expect.poll(() => acknowledged.length, { timeout: 10_000 }).toBeGreaterThan(50);
    const slot = slotOf(queues.shards[1]?.opts.prefix as string);
    const victim = await cluster.primaryOf(slot);
    const killedAt = Date.now();
    await cluster.kill(victim);
    // Its replica takes over; until the killed node is back as that one's replica, the
    // shard has no replica and its adds are refused (spooled), the others' acknowledged.
    await expect
      .poll(async () => (await cluster.primaryOf(slot).catch(() => victim)).address, { timeout: 20_000 })
      .not.toBe(victim.address);
    const failoverSeconds = (Date.now() - killedAt) / 1000;
    const acknowledgedAtFailover = acknowledged.length;
    await expect.poll(() => acknowledged.length, { timeout: 10_000 }).toBeGreaterThan(acknowledgedAtFailover + 50);
    await cluster.restart(victim);
    const shardWaiting = (await queues.shards[1]?.getWaitingCount()) as number;
    await expect.poll(async () => queues.shards[1]?.getWaitingCount(), { timeout: 10_000 }).toBeGreaterThan(shardWaiting);
    stop = true;
    await producer;
    const stored = await queuedHitIds(queues);
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    console.info(
      `failover under adds: slot served again ${failoverSeconds.toFixed(1)} s after SIGKILL; ` +
        `${acknowledged.length} adds acknowledged, ${refused} refused (a gateway spools those), none lost`,
    );
    for (const shard of queues.shards) await shard.obliterate({ force: true });
    await queues.close();
  });

  it("settles the commands sent to a primary that died, once its replica has taken over (waiting roles too)", async () => {
    const waiting = createRedis(target(), "blocking");
    await waitReady(waiting);
    const key = `${prefix}:failover-probe`;
    const victim = await cluster.primaryOf(slotOf(key));
    await cluster.kill(victim);
    try {
      // Sent while the node is dead and before the failover: they wait on its connection.
      const settled: Array<"ok" | "error"> = [];
      const sent = Array.from({ length: 5 }, (_, i) =>
        new Promise((resolve) => setTimeout(resolve, i * 200))
          .then(() => waiting.incr(key))
          .then(
            () => settled.push("ok"),
            () => settled.push("error"),
          ),
      );
      await expect
        .poll(async () => (await cluster.primaryOf(slotOf(key)).catch(() => victim)).address, { timeout: 20_000 })
        .not.toBe(victim.address);
      // The dead node stays dead: nothing may wait for it to come back.
      await Promise.race([Promise.all(sent), new Promise((resolve) => setTimeout(resolve, 10_000))]);
      expect(settled).toHaveLength(5);
      // A waiting role sends them again to the new primary: none is lost.
      expect(settled.every((outcome) => outcome === "ok")).toBe(true);
    } finally {
      waiting.disconnect();
      await cluster.restart(victim);
    }
  });
});
