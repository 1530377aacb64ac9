import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { UsageClient, type UsageError } from "../src/index.ts";
import { hit, type Stack, startStack } from "./helpers.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a gateway killed with SIGKILL and restarted while the SDK sends", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ RATE_LIMIT_PER_HOUR: "1000000" });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("counts every one of 20,000 tracked hits exactly once", { timeout: 120_000 }, async () => {
    const { apiKey, clientId } = await stack.register();
    const errors: UsageError[] = [];
    const usage = new UsageClient({
      baseUrl: stack.base,
      apiKey,
      flushAt: 500,
      flushIntervalMs: 50,
      timeoutMs: 5000,
      onError: (e) => errors.push(e),
    });
    const ids: string[] = [];
    const track = (n: number) => {
      for (let i = 0; i < n; i++) ids.push(usage.track(hit({ endpoint: `/v1/r/${ids.length % 50}` })));
    };
    // Half at once; the gateway dies while batches of it are in flight.
    track(10_000);
    while (!(usage.stats().sent >= 1000 && usage.stats().inFlight > 0) && usage.stats().sent < 10_000) await sleep(1);
    const inFlightAtKill = usage.stats().inFlight;
    await stack.killGateway();
    // The other half while it is down, then it comes back on the same port.
    for (let round = 0; round < 10; round++) {
      track(1000);
      await sleep(50);
    }
    await sleep(500);
    await stack.startGateway();

    const result = await usage.flush({ timeoutMs: 60_000 });
    const stats = usage.stats();
    expect(stats).toMatchObject({ queued: 0, inFlight: 0, sent: 20_000, rejected: 0, dropped: 0 });
    expect(result.rejected + result.dropped).toBe(0);
    // The outage was real: requests were cut and sent again.
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(stats.retried).toBeGreaterThan(0);
    expect(errors.filter((e) => e.outcome !== "retrying")).toEqual([]);
    expect(errors.some((e) => e.code === "NETWORK_ERROR")).toBe(true);

    expect(await stack.waitStored(clientId, 20_000, 60_000)).toEqual({ rows: 20_000, ids: 20_000 });
    const { rows } = await sql<{ missing: number }>`
      SELECT count(*)::int AS missing FROM unnest(${ids}::uuid[]) AS t(id)
      WHERE NOT EXISTS (SELECT 1 FROM hits h WHERE h.client_id = ${clientId} AND h.id = t.id)`.execute(stack.env.db);
    expect(rows[0]?.missing).toBe(0);
    const rollup = await sql<{
      total: number;
    }>`SELECT coalesce(sum(total), 0)::int AS total FROM usage_daily WHERE client_id = ${clientId}`.execute(stack.env.db);
    expect(rollup.rows[0]?.total).toBe(20_000);
    await usage.shutdown();
  });

  it("flush() sends at once what waits out a backoff, so a gateway back up gets it before the deadline", async () => {
    const { apiKey, clientId } = await stack.register();
    const attempts: number[] = [];
    const watched: typeof fetch = (input, init) => {
      attempts.push(Date.now());
      return fetch(input, init);
    };
    const usage = new UsageClient({ baseUrl: stack.base, apiKey, flushAt: 10, maxRetries: 50, fetch: watched, onError: () => {} });
    // Backoffs at the top of their range (0.2, 0.4, 0.8, 1.6, 3.2, 6.4 s…), so that the batch is
    // in a long one when the gateway comes back.
    const random = vi.spyOn(Math, "random").mockReturnValue(0.999);
    try {
      await stack.killGateway();
      for (let i = 0; i < 10; i++) usage.track(hit());
      while (attempts.length < 5) await sleep(10);
      await stack.startGateway();
      const before = attempts.length;
      const started = Date.now();
      expect(await usage.flush({ timeoutMs: 20_000 })).toEqual({ sent: 10, rejected: 0, dropped: 0 });
      // Sent on the flush, not when the backoff (3.2 s or 6.4 s by now) ran out.
      expect(Date.now() - started).toBeLessThan(1500);
      expect(attempts.length).toBe(before + 1);
      expect(await stack.waitStored(clientId, 10)).toEqual({ rows: 10, ids: 10 });
    } finally {
      random.mockRestore();
      await usage.shutdown();
    }
  });
});
