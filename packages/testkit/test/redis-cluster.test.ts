import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PrivateRedisCluster, startPrivateRedisCluster } from "../src/redis-cluster.ts";

describe("private redis cluster", () => {
  let cluster: PrivateRedisCluster;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startPrivateRedisCluster();
    client = new Cluster(
      cluster.seeds.split(",").map((seed) => ({ host: seed.split(":")[0], port: Number(seed.split(":")[1]) })),
      { clusterRetryStrategy: () => 100, retryDelayOnFailover: 200 },
    );
    client.on("error", () => {});
  });
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it("serves keys of every slot range from three primaries with a replica each", async () => {
    expect(cluster.seeds.split(",")).toHaveLength(6);
    expect(await cluster.primaries()).toHaveLength(3);
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    for (const key of keys) await client.set(key, key);
    const primaries = new Set(await Promise.all(keys.map(async (key) => (await cluster.primaryOf(await slotOf(client, key))).address)));
    expect(primaries.size).toBe(3);
    for (const key of keys) expect(await client.get(key)).toBe(key);
    // Every write so far reached a replica.
    const tagged = "{k0}";
    await client.set(tagged, "1");
    expect(await client.pipeline().exists(tagged).call("WAIT", 1, 1000).exec()).toEqual([
      [null, 1],
      [null, 1],
    ]);
  });

  it("fails a killed primary over to its replica within a few seconds, and takes it back as a replica", async () => {
    const slot = await slotOf(client, "k0");
    const victim = await cluster.primaryOf(slot);
    const killedAt = Date.now();
    await cluster.kill(victim);
    // The key's slot answers again once the replica has taken over.
    let value: string | null = null;
    while (value !== "k0" && Date.now() - killedAt < 15_000) value = await client.get("k0").catch(() => null);
    const seconds = (Date.now() - killedAt) / 1000;
    expect(value).toBe("k0");
    expect(seconds).toBeLessThan(8);
    console.info(`failover: the slot answered again ${seconds.toFixed(1)} s after SIGKILL of its primary`);
    const promoted = await cluster.primaryOf(slot);
    expect(promoted.address).not.toBe(victim.address);

    await cluster.restart(victim);
    expect((await cluster.primaries()).map((node) => node.address)).not.toContain(victim.address);
    expect(await client.get("k0")).toBe("k0");
  });
});

const slotOf = async (client: Cluster, key: string): Promise<number> => Number(await client.cluster("KEYSLOT", key));
