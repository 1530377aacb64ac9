import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageClient, type UsageError } from "../src/index.ts";
import { hit, type Stack, startStack, watchingFetch } from "./helpers.ts";

const DAY_MS = 86_400_000;

describe("answers that refuse hits, from a real gateway", () => {
  let stack: Stack;
  beforeAll(async () => {
    // A body limit far under the SDK's default maxBatchBytes (512 KiB), to draw 413s.
    stack = await startStack({ RATE_LIMIT_PER_HOUR: "100000", BODY_LIMIT_BYTES: "32768" });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const storedIds = async (clientId: string): Promise<Set<string>> => {
    const { rows } = await sql<{ id: string }>`SELECT id::text AS id FROM hits WHERE client_id = ${clientId}`.execute(stack.env.db);
    return new Set(rows.map((row) => row.id));
  };

  it("400 naming a hit's index: that hit is rejected and the others are sent", async () => {
    const { apiKey, clientId } = await stack.register();
    const errors: UsageError[] = [];
    const watch = watchingFetch();
    const usage = new UsageClient({ baseUrl: stack.base, apiKey, fetch: watch.fetch, onError: (e) => errors.push(e) });
    const old = new Date(Date.now() - 40 * DAY_MS);
    const ids = Array.from({ length: 10 }, (_, i) => usage.track(hit(i === 3 || i === 7 ? { timestamp: old } : {})));
    expect(await usage.flush()).toEqual({ sent: 8, rejected: 2, dropped: 0 });
    // One request per refused hit, then the rest: 10, 9, 8 hits.
    expect(watch.requests.map((r) => r.hits)).toEqual([10, 9, 8]);
    expect(errors.map((e) => [e.code, e.status, e.eventIds])).toEqual([
      ["VALIDATION_ERROR", 400, [ids[3]]],
      ["VALIDATION_ERROR", 400, [ids[7]]],
    ]);
    expect(errors[0]?.message).toContain("body/hits/3/timestamp");
    expect(usage.stats()).toMatchObject({ sent: 8, rejected: 2, dropped: 0, retried: 17 });
    await stack.waitStored(clientId, 8);
    expect(await storedIds(clientId)).toEqual(new Set(ids.filter((_, i) => i !== 3 && i !== 7)));
    await usage.shutdown();
  });

  it("401 for an unknown key: the batch is rejected at once and reported", async () => {
    const errors: UsageError[] = [];
    const watch = watchingFetch();
    const usage = new UsageClient({
      baseUrl: stack.base,
      apiKey: `uk_${"0".repeat(43)}`,
      fetch: watch.fetch,
      onError: (e) => errors.push(e),
    });
    const ids = Array.from({ length: 5 }, () => usage.track(hit()));
    expect(await usage.flush()).toEqual({ sent: 0, rejected: 5, dropped: 0 });
    expect(watch.requests).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "UNAUTHORIZED", status: 401, outcome: "rejected", count: 5, eventIds: ids });
    await usage.shutdown();
  });

  it("413: the batch is halved until it fits, both halves sent, and later batches start smaller", async () => {
    const { apiKey, clientId } = await stack.register();
    const errors: UsageError[] = [];
    const watch = watchingFetch();
    const usage = new UsageClient({
      baseUrl: stack.base,
      apiKey,
      flushAt: 1000,
      concurrency: 1,
      fetch: watch.fetch,
      onError: (e) => errors.push(e),
    });
    // ~500 bytes each: 400 hits are ~200 KB against a 32 KiB limit.
    const endpoint = `/v1/${"y".repeat(400)}`;
    for (let i = 0; i < 400; i++) usage.track(hit({ endpoint }));
    expect(await usage.flush()).toEqual({ sent: 400, rejected: 0, dropped: 0 });
    expect(errors).toEqual([]);
    const sizes = watch.requests.map((r) => r.hits);
    // 400 → about 200 → about 100 → about 50, which fits (each body under half the refused one,
    // exact to the byte: a hit or so fewer than half the count); then the rest, under that limit.
    for (let i = 1; i < 4; i++) {
      expect(sizes[i]).toBeLessThanOrEqual(Math.ceil((sizes[i - 1] as number) / 2));
      expect(sizes[i]).toBeGreaterThanOrEqual(Math.floor((sizes[i - 1] as number) / 2) - 2);
    }
    expect(sizes[0]).toBe(400);
    const refused = sizes.slice(0, 3).reduce((a, b) => a + b, 0);
    expect(sizes.reduce((a, b) => a + b, 0) - refused).toBe(400);
    expect(usage.stats()).toMatchObject({ sent: 400, rejected: 0, dropped: 0 });
    await stack.waitStored(clientId, 400);
    expect(await stack.stored(clientId)).toEqual({ rows: 400, ids: 400 });

    // The next batch starts under half the refused body: no 413 on the way.
    const before = watch.requests.length;
    for (let i = 0; i < 100; i++) usage.track(hit({ endpoint }));
    await usage.flush();
    expect(watch.requests.slice(before).every((r) => Buffer.byteLength(r.body ?? "") <= 32_768)).toBe(true);
    expect(usage.stats()).toMatchObject({ sent: 500, rejected: 0, dropped: 0 });
    await usage.shutdown();
  });
});
