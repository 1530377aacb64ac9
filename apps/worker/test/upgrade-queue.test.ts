import { eventually } from "@usage/testkit";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientId, rawCount, startTestWorker, type WorkerHarness, wireHit } from "./helper.ts";

describe("a single-node deployment upgraded in place", () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    // One hit queue, as on a single node (a cluster run of the suite would default to three).
    h = await startTestWorker({ HIT_QUEUE_SHARDS: "1" });
  });
  afterAll(async () => h?.close());

  it("stores the hit jobs accepted before the queues were sharded (the queue under `{queue}`)", async () => {
    // As the gateway enqueued before the upgrade: queue `hits`, BullMQ prefix `<prefix>:{queue}`.
    const before = new Queue("hits", { connection: h.redis, prefix: `${h.workerConfig.redisPrefix}:{queue}` });
    const client = clientId();
    try {
      await before.add("hit-batch", { v: 1, hits: [wireHit(client), wireHit(client)] });
      expect(await eventually(async () => ((await rawCount(h, client)) === 2 ? true : undefined), 10_000, "both hits stored")).toBe(true);
    } finally {
      await before.close();
    }
  });
});
