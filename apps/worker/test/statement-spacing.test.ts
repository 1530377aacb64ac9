import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientId, rawCount, startTestWorker, type WorkerHarness, wireHit } from "./helper.ts";

/** Far longer than any of these waits needs: whatever the spacing held would show. */
const SPACING_MS = 1_000;
const CONCURRENCY = 8;

describe("hit statements spaced apart (WORKER_STATEMENT_SPACING_MS)", () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    // One hit queue shard on a cluster too: the jobs below all go to it, and its slots are the worker's.
    h = await startTestWorker({
      WORKER_STATEMENT_SPACING_MS: String(SPACING_MS),
      WORKER_CONCURRENCY: String(CONCURRENCY),
      HIT_QUEUE_SHARDS: "1",
    });
  });
  afterAll(async () => h.close());

  /** Milliseconds from now until `client` has `n` hits stored. */
  const storedWithin = async (client: string, n: number, enqueue: () => Promise<unknown>): Promise<number> => {
    const started = performance.now();
    await enqueue();
    while ((await rawCount(h, client)) < n) {
      if (performance.now() - started > 4 * SPACING_MS) throw new Error(`not ${n} hits stored within ${4 * SPACING_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return performance.now() - started;
  };

  it("stores a lone small job at once: no statement started within the spacing", async () => {
    await new Promise((resolve) => setTimeout(resolve, SPACING_MS));
    const client = clientId();
    const ms = await storedWithin(client, 3, () =>
      h.queue.add("hit-batch", { v: 1, hits: [wireHit(client), wireHit(client), wireHit(client)] }),
    );
    expect(ms).toBeLessThan(SPACING_MS / 2);
  });

  it("does not hold tiny jobs once they fill half the worker's slots", async () => {
    // 40 one-hit jobs and 8 slots: held for the spacing each time the slots filled, they
    // would take 40 / 8 × 1 s at least.
    const client = clientId();
    const ms = await storedWithin(client, 40, () =>
      h.queue.addBulk(Array.from({ length: 40 }, () => ({ name: "hit-batch", data: { v: 1 as const, hits: [wireHit(client)] } }))),
    );
    expect(ms).toBeLessThan(2.5 * SPACING_MS);
  });

  it("does not hold a statement of a full gateway job (500 hits)", async () => {
    const warm = clientId();
    await storedWithin(warm, 1, () => h.queue.add("hit-batch", { v: 1, hits: [wireHit(warm)] }));
    // A statement just started: a small job now would wait most of the spacing; this one does not.
    const client = clientId();
    const hits = Array.from({ length: 500 }, () => wireHit(client));
    const ms = await storedWithin(client, 500, () => h.queue.add("hit-batch", { v: 1, hits }));
    expect(ms).toBeLessThan(SPACING_MS / 2);
  });

  it("holds a small job that follows a statement for the rest of the spacing", async () => {
    const warm = clientId();
    await storedWithin(warm, 1, () => h.queue.add("hit-batch", { v: 1, hits: [wireHit(warm)] }));
    const client = clientId();
    const ms = await storedWithin(client, 1, () => h.queue.add("hit-batch", { v: 1, hits: [wireHit(client)] }));
    // The spacing counts from the last statement's start, a little before `warm` was seen stored.
    expect(ms).toBeGreaterThan(SPACING_MS / 2);
  });
});
