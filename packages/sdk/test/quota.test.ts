import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageClient, type UsageError } from "../src/index.ts";
import { hit, type Stack, startStack, watchingFetch } from "./helpers.ts";

const QUOTA = 20;
const HOUR_MS = 3_600_000;

/** The quota is per fixed UTC hour: a test that must not straddle its end waits for the next one. */
const notNearHourEnd = async (): Promise<void> => {
  const left = HOUR_MS - (Date.now() % HOUR_MS);
  if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 100));
};

describe("quota (RATE_LIMIT_PER_HOUR small) against a real gateway", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ RATE_LIMIT_PER_HOUR: String(QUOTA) });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("429: the part that fits x-ratelimit-remaining is sent again at once, the rest rejected, none held back", async () => {
    await notNearHourEnd();
    const { apiKey, clientId } = await stack.register();
    const errors: UsageError[] = [];
    const watch = watchingFetch();
    const usage = new UsageClient({ baseUrl: stack.base, apiKey, flushAt: 100, fetch: watch.fetch, onError: (e) => errors.push(e) });
    const first = Array.from({ length: 12 }, () => usage.track(hit()));
    expect(await usage.flush()).toEqual({ sent: 12, rejected: 0, dropped: 0 });

    const second = Array.from({ length: 15 }, () => usage.track(hit()));
    const started = Date.now();
    expect(await usage.flush()).toEqual({ sent: 8, rejected: 7, dropped: 0 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(watch.requests.map((r) => r.hits)).toEqual([12, 15, 8]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "RATE_LIMITED", status: 429, outcome: "rejected", count: 7, eventIds: second.slice(8) });

    // Quota spent: the next batch is refused whole, in one request, not kept for the next hour.
    usage.track(hit());
    expect(await usage.flush()).toEqual({ sent: 0, rejected: 1, dropped: 0 });
    expect(watch.requests).toHaveLength(4);
    expect(usage.stats()).toMatchObject({ queued: 0, inFlight: 0, sent: 20, rejected: 8 });

    await stack.waitStored(clientId, QUOTA);
    const { rows } = await sql<{ id: string }>`SELECT id::text AS id FROM hits WHERE client_id = ${clientId}`.execute(stack.env.db);
    expect(new Set(rows.map((row) => row.id))).toEqual(new Set([...first, ...second.slice(0, 8)]));
    await usage.shutdown();
  });

  it("record(): counts one hit now, once per event id, and answers over quota locally until the reset", async () => {
    await notNearHourEnd();
    const { apiKey, clientId } = await stack.register();
    const watch = watchingFetch();
    const usage = new UsageClient({ baseUrl: stack.base, apiKey, fetch: watch.fetch, onError: () => {} });

    const first = await usage.record(hit());
    expect(first).toMatchObject({ accepted: true, duplicate: false, limit: QUOTA, remaining: QUOTA - 1 });
    expect(first.resetSeconds).toBeGreaterThan(0);
    expect(first.resetSeconds).toBeLessThanOrEqual(3600);
    const again = await usage.record(hit({ eventId: first.id }));
    expect(again).toMatchObject({ accepted: true, duplicate: true, id: first.id, remaining: QUOTA - 1 });

    for (let i = 1; i < QUOTA; i++) expect((await usage.record(hit())).accepted).toBe(true);
    const over = await usage.record(hit());
    expect(over).toMatchObject({ accepted: false, duplicate: false, limit: QUOTA, remaining: 0 });
    expect(over.resetSeconds).toBeGreaterThan(0);
    const requests = watch.count("/api/logs");
    expect(requests).toBe(QUOTA + 2);

    // Known over quota: answered without a request, for this key only.
    const local = await usage.record(hit());
    expect(local).toMatchObject({ accepted: false, remaining: 0, limit: QUOTA });
    expect(local.resetSeconds).toBeLessThanOrEqual(over.resetSeconds);
    expect(watch.count("/api/logs")).toBe(requests);
    const other = await stack.register("other");
    expect(await usage.record(hit(), { apiKey: other.apiKey })).toMatchObject({ accepted: true, remaining: QUOTA - 1 });
    expect(watch.count("/api/logs")).toBe(requests + 1);

    expect(await stack.waitStored(clientId, QUOTA)).toEqual({ rows: QUOTA, ids: QUOTA });
    await usage.shutdown();
  });

  it("record() rejects with a UsageError for a refused key, and reports it", async () => {
    const errors: UsageError[] = [];
    const usage = new UsageClient({ baseUrl: stack.base, apiKey: `uk_${"1".repeat(43)}`, onError: (e) => errors.push(e) });
    await expect(usage.record(hit())).rejects.toMatchObject({ name: "UsageError", code: "UNAUTHORIZED", status: 401 });
    expect(errors.map((e) => e.code)).toEqual(["UNAUTHORIZED"]);
    expect(() => usage.record(hit({ ip: "not-an-ip" }))).toThrow(TypeError);
    await usage.shutdown();
  });
});
