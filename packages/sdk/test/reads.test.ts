import { ADMIN_KEY, eventually } from "@usage/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { UsageClient, type UsageEvent } from "../src/index.ts";
import { hit, type Stack, startStack, watchingFetch } from "./helpers.ts";

const JWT_TTL_SECONDS = 60;

describe("usage reads and the stream, with tokens handled inside", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ RATE_LIMIT_PER_HOUR: "100000", JWT_TTL_SECONDS: String(JWT_TTL_SECONDS) });
  });
  afterAll(async () => {
    await stack?.stop();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const todayOf = (body: { data: Array<{ days: Array<{ total_requests: number }> }> }): number | undefined =>
    body.data[0]?.days.at(-1)?.total_requests;

  it("daily() and top() exchange the key for a token once, renew it before it expires and after a 401", async () => {
    const { apiKey, clientId } = await stack.register("Reader");
    const watch = watchingFetch();
    const usage = new UsageClient({ baseUrl: stack.base, apiKey, fetch: watch.fetch, onError: () => {} });
    for (let i = 0; i < 5; i++) usage.track(hit());
    await usage.flush();

    const daily = await eventually(async () => {
      const body = await usage.daily();
      return todayOf(body) === 5 ? body : undefined;
    });
    expect(daily.data[0]).toMatchObject({ client_id: clientId, name: "Reader" });
    expect(daily.data[0]?.days).toHaveLength(7);
    await stack.waitStored(clientId, 5);
    const top = await eventually(async () => {
      const body = await usage.top({ limit: 100, apiKey: ADMIN_KEY });
      return body.data.some((row) => row.client_id === clientId) ? body : undefined;
    });
    expect(top.data).toContainEqual({ client_id: clientId, name: "Reader", total_requests: 5 });
    expect(top.window.from < top.window.to).toBe(true);
    const tokens = watch.count("/api/auth/token");
    expect(tokens).toBe(2); // one per key: the client's and the admin's

    // Near the end of the token's life (80 %), the next read fetches a new one first.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + (JWT_TTL_SECONDS - 5) * 1000 });
    expect(todayOf(await usage.daily())).toBe(5);
    expect(watch.count("/api/auth/token")).toBe(tokens + 1);
    vi.useRealTimers();

    // A gateway with another signing secret refuses the token: renewed, and the read succeeds.
    await stack.startGateway({ JWT_SECRET: "another-secret-another-secret-another-0000" });
    const reads = watch.count("/api/usage/daily");
    expect(todayOf(await usage.daily())).toBe(5);
    expect(watch.count("/api/usage/daily")).toBe(reads + 2);
    expect(watch.count("/api/auth/token")).toBe(tokens + 2);
    await stack.startGateway();
    await usage.shutdown();
  });

  it("daily({ limit, cursor }) pages through clients with the admin key", async () => {
    const a = await stack.register("Page A");
    const b = await stack.register("Page B");
    const usage = new UsageClient({ baseUrl: stack.base, apiKey: ADMIN_KEY, onError: () => {} });
    for (let i = 0; i < 3; i++) usage.track(hit(), { apiKey: a.apiKey });
    for (let i = 0; i < 2; i++) usage.track(hit(), { apiKey: b.apiKey });
    await usage.flush();
    await stack.waitStored(a.clientId, 3);
    await stack.waitStored(b.clientId, 2);
    const seen = new Map<string, number>();
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const body = await usage.daily({ limit: 1, ...(cursor === undefined ? {} : { cursor }) });
      expect(body.data.length).toBeLessThanOrEqual(1);
      for (const row of body.data) seen.set(row.client_id, row.days.at(-1)?.total_requests ?? 0);
      if (body.next_cursor === null) break;
      cursor = body.next_cursor;
    }
    expect(seen.get(a.clientId)).toBe(3);
    expect(seen.get(b.clientId)).toBe(2);
    await usage.shutdown();
  });

  it("a read refused for good rejects with the contract's code", async () => {
    const { apiKey } = await stack.register();
    const usage = new UsageClient({ baseUrl: stack.base, apiKey, onError: () => {} });
    await expect(usage.top()).rejects.toMatchObject({ name: "UsageError", code: "FORBIDDEN", status: 403 });
    const stranger = new UsageClient({ baseUrl: stack.base, apiKey: `uk_${"2".repeat(43)}`, onError: () => {} });
    await expect(stranger.daily()).rejects.toMatchObject({ code: "UNAUTHORIZED", status: 401 });
  });

  it("stream() yields the snapshot, then usage.updated, and after a gateway restart a new snapshot first", {
    timeout: 60_000,
  }, async () => {
    const { apiKey, clientId } = await stack.register("Streamer");
    const usage = new UsageClient({ baseUrl: stack.base, apiKey, onError: () => {} });
    const events = usage.stream();
    const next = async (): Promise<UsageEvent> => {
      const item = await events.next();
      if (item.done) throw new Error("stream ended");
      return item.value;
    };
    /** Updates until the client's total for today reaches `total`. */
    const updatesUntil = async (total: number): Promise<number> => {
      let delta = 0;
      for (;;) {
        const event = await next();
        expect(event.type).toBe("usage.updated");
        if (event.type !== "usage.updated") continue;
        expect(event.client_id).toBe(clientId);
        delta += event.delta;
        if (event.total_requests >= total) return delta;
      }
    };

    expect(await next()).toMatchObject({ type: "usage.snapshot", data: [{ client_id: clientId, total_requests: 0 }] });
    for (let i = 0; i < 3; i++) usage.track(hit());
    await usage.flush();
    expect(await updatesUntil(3)).toBe(3);

    await stack.killGateway();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await stack.startGateway();
    expect(await next()).toMatchObject({ type: "usage.snapshot", data: [{ client_id: clientId, total_requests: 3 }] });
    for (let i = 0; i < 2; i++) usage.track(hit());
    await usage.flush();
    expect(await updatesUntil(5)).toBe(2);

    // shutdown() ends the stream: a pending next() resolves done.
    const pending = events.next();
    await usage.shutdown();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it("breaking out of for await closes the connection", async () => {
    const { apiKey } = await stack.register();
    const usage = new UsageClient({ baseUrl: stack.base, apiKey, onError: () => {} });
    let seen = 0;
    for await (const event of usage.stream()) {
      expect(event.type).toBe("usage.snapshot");
      seen++;
      break;
    }
    expect(seen).toBe(1);
    await usage.shutdown();
  });
});
