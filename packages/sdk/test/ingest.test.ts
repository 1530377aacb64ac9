import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageClient, type UsageError } from "../src/index.ts";
import { hit, type Stack, startStack, watchingFetch } from "./helpers.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("track(): batching against a real gateway and worker", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ RATE_LIMIT_PER_HOUR: "100000" });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("sends a batch each time flushAt hits are buffered, and keeps the rest until flushed", async () => {
    const { apiKey, clientId } = await stack.register();
    const watch = watchingFetch();
    const errors: UsageError[] = [];
    const usage = new UsageClient({
      baseUrl: stack.base,
      apiKey,
      flushAt: 10,
      flushIntervalMs: 60_000,
      fetch: watch.fetch,
      onError: (e) => errors.push(e),
    });
    const ids = Array.from({ length: 25 }, (_, i) => usage.track(hit({ endpoint: `/v1/items/${i}` })));
    while (usage.stats().sent < 20) await sleep(10);
    await sleep(200);
    expect(watch.requests.map((r) => r.hits)).toEqual([10, 10]);
    expect(usage.stats()).toMatchObject({ queued: 5, inFlight: 0, sent: 20 });

    expect(await usage.flush()).toEqual({ sent: 5, rejected: 0, dropped: 0 });
    expect(watch.requests.map((r) => r.hits)).toEqual([10, 10, 5]);
    expect(usage.stats()).toEqual({ queued: 0, inFlight: 0, sent: 25, duplicates: 0, retried: 0, rejected: 0, dropped: 0 });
    expect(errors).toEqual([]);

    expect(await stack.waitStored(clientId, 25)).toEqual({ rows: 25, ids: 25 });
    const { rows } = await sql<{ id: string }>`SELECT id::text AS id FROM hits WHERE client_id = ${clientId}`.execute(stack.env.db);
    expect(new Set(rows.map((row) => row.id))).toEqual(new Set(ids));
    await usage.shutdown();
  });

  it("sends a partial batch once flushIntervalMs has passed, without a flush()", async () => {
    const { apiKey, clientId } = await stack.register();
    const watch = watchingFetch();
    const usage = new UsageClient({
      baseUrl: stack.base,
      apiKey,
      flushAt: 500,
      flushIntervalMs: 400,
      fetch: watch.fetch,
      onError: () => {},
    });
    const started = Date.now();
    for (let i = 0; i < 3; i++) usage.track(hit());
    await sleep(200);
    expect(watch.requests).toHaveLength(0);
    while (usage.stats().sent < 3) await sleep(10);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(380);
    expect(waited).toBeLessThan(2000);
    expect(watch.requests.map((r) => r.hits)).toEqual([3]);
    expect(await stack.waitStored(clientId, 3)).toEqual({ rows: 3, ids: 3 });
    await usage.shutdown();
  });

  it("groups hits by API key: one batch per key, each counted for its own client", async () => {
    const a = await stack.register("A");
    const b = await stack.register("B");
    const watch = watchingFetch();
    const usage = new UsageClient({ baseUrl: stack.base, apiKey: a.apiKey, flushAt: 1000, flushIntervalMs: 60_000, fetch: watch.fetch });
    for (let i = 0; i < 12; i++) {
      if (i % 2 === 0 || i > 8) usage.track(hit());
      else usage.track(hit(), { apiKey: b.apiKey });
    }
    expect(await usage.flush()).toEqual({ sent: 12, rejected: 0, dropped: 0 });
    const batches = watch.requests.map((r) => ({ apiKey: r.apiKey, hits: r.hits }));
    expect(batches).toHaveLength(2);
    expect(batches).toEqual(
      expect.arrayContaining([
        { apiKey: a.apiKey, hits: 8 },
        { apiKey: b.apiKey, hits: 4 },
      ]),
    );
    expect(await stack.waitStored(a.clientId, 8)).toEqual({ rows: 8, ids: 8 });
    expect(await stack.waitStored(b.clientId, 4)).toEqual({ rows: 4, ids: 4 });
    await usage.shutdown();
  });

  it("keeps several batches in flight and stays under maxBatchBytes", async () => {
    const { apiKey, clientId } = await stack.register();
    const watch = watchingFetch();
    const usage = new UsageClient({
      baseUrl: stack.base,
      apiKey,
      flushAt: 1000,
      maxBatchBytes: 64 * 1024,
      concurrency: 4,
      fetch: watch.fetch,
    });
    const endpoint = `/v1/${"x".repeat(400)}`;
    for (let i = 0; i < 2000; i++) usage.track(hit({ endpoint }));
    expect(await usage.flush()).toEqual({ sent: 2000, rejected: 0, dropped: 0 });
    // About 140 of these hits fit in 64 KiB: 15 batches, up to 4 at once.
    expect(watch.requests.length).toBeGreaterThanOrEqual(14);
    for (const request of watch.requests) expect(Buffer.byteLength(request.body ?? "")).toBeLessThanOrEqual(64 * 1024);
    expect(watch.concurrency.peak).toBe(4);
    expect(await stack.waitStored(clientId, 2000)).toEqual({ rows: 2000, ids: 2000 });
    await usage.shutdown();
  });
});
