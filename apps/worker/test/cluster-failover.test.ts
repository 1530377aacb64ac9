import { createKeys, slotOf } from "@usage/store";
import { type PrivateRedisCluster, startPrivateRedisCluster } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientId, rawCount, startTestWorker, type WorkerHarness, wireHit } from "./helper.ts";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Its own cluster: this file kills a node. The change message of every committed statement
 * goes to one channel, so to one primary. When that primary died, a publish waiting on it
 * (a connection of the "blocking" role waits for as long as it takes) held its statement's
 * jobs, and, statements being shared, every shard's: the worker stopped storing for good.
 */
describe("worker on a Redis Cluster whose change-channel primary dies", () => {
  let cluster: PrivateRedisCluster;
  let h: WorkerHarness;
  beforeAll(async () => {
    cluster = await startPrivateRedisCluster();
    h = await startTestWorker({ REDIS_CLUSTER_NODES: cluster.seeds });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await cluster?.stop();
  }, 60_000);

  it("stores every job of every shard through the failover and after", async () => {
    const client = clientId();
    const channel = createKeys(h.workerConfig.redisPrefix).updatesChannel;
    const victim = await cluster.primaryOf(slotOf(channel));
    let added = 0;
    let adding = true;
    // Jobs in flight when the node dies, on shards whose adds may fail while it is away.
    const producer = (async () => {
      while (adding) {
        await h.queues
          .add({ v: 1, hits: Array.from({ length: 10 }, () => wireHit(client)) })
          .then(() => {
            added += 10;
          })
          .catch(() => {});
        await pause(20);
      }
    })();
    await pause(1_000);
    await cluster.kill(victim);
    await pause(4_000);
    await cluster.restart(victim);
    await pause(1_000);
    adding = false;
    await producer;
    expect(added).toBeGreaterThan(500);
    // A job whose add no replica confirmed may be in the queue too: at least `added` stored.
    expect(await h.worker.drain(20_000)).toBe(true);
    expect(await rawCount(h, client)).toBeGreaterThanOrEqual(added);
  }, 90_000);
});
