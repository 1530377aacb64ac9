import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientId, rawCount, startTestWorker, type WorkerHarness, wireHit } from "./helper.ts";

describe("worker drain on stop, on a real queue", () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startTestWorker();
  });
  afterAll(async () => h?.close());

  it("resolves true once every queued hit job is stored", async () => {
    const client = clientId();
    await h.queue.addBulk(
      Array.from({ length: 20 }, () => ({
        name: "hit-batch",
        data: { v: 1 as const, hits: Array.from({ length: 100 }, () => wireHit(client)) },
      })),
    );
    expect(await h.worker.drain(10_000)).toBe(true);
    expect(await rawCount(h, client)).toBe(2000);
  });

  it("gives up after its timeout while a job is still delayed", async () => {
    const job = await h.queue.add("hit-batch", { v: 1, hits: [wireHit(clientId())] }, { delay: 60_000 });
    const started = performance.now();
    expect(await h.worker.drain(300)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
    await job.remove();
  });
});
