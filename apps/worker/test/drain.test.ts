import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientId, rawCount, startTestWorker, type WorkerHarness, wireHit } from "./helper.ts";

describe("worker drain on stop, on a real queue of three shards", () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startTestWorker({ HIT_QUEUE_SHARDS: "3" });
  });
  afterAll(async () => h?.close());

  it("resolves true once every queued hit job of every shard is stored", async () => {
    const client = clientId();
    // Spread over the shards in turn, as the gateways add them.
    for (let i = 0; i < 20; i++) await h.queues.add({ v: 1, hits: Array.from({ length: 100 }, () => wireHit(client)) });
    expect(await h.worker.drain(10_000)).toBe(true);
    expect(await rawCount(h, client)).toBe(2000);
  });

  it("gives up after its timeout while a job of any shard is still delayed", async () => {
    const job = await h.queues.shards[2]?.add("hit-batch", { v: 1, hits: [wireHit(clientId())] }, { delay: 60_000 });
    const started = performance.now();
    expect(await h.worker.drain(300)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
    await job?.remove();
  });
});
