import { lastDays } from "@usage/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";

const DAY = 86_400_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const daysAgo = (n: number, hourOffsetMs = 0) => new Date(Date.now() - n * DAY - hourOffsetMs).toISOString();

describe("GET /api/usage/daily and /api/usage/top", () => {
  let gw: GatewayHarness;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let admin: string;
  beforeAll(async () => {
    gw = await buildGateway({ RATE_LIMIT_PER_HOUR: "100000" });
    alice = await gw.register("Alice");
    bob = await gw.register("Bob");
    carol = await gw.register("Carol");
    admin = await gw.adminToken();
  });
  afterAll(async () => gw.close());

  const send = async (client: TestClient, hits: unknown[]) => {
    const response = await gw.inject({
      method: "POST",
      url: "/api/logs/batch",
      headers: { "x-api-key": client.api_key },
      payload: { hits },
    });
    expect(response.statusCode, response.body).toBe(202);
  };
  const many = (n: number, timestamp?: string) => Array.from({ length: n }, () => hit(timestamp === undefined ? {} : { timestamp }));
  const get = (url: string, token: string, remoteAddress?: string) =>
    gw.inject({ method: "GET", url, headers: { authorization: `Bearer ${token}` }, ...(remoteAddress ? { remoteAddress } : {}) });

  it("gives a client its own last 7 UTC days, oldest first, zero-filled, counted by event day", async () => {
    await send(alice, [...many(3), ...many(2, daysAgo(2)), ...many(1, daysAgo(6)), ...many(4, daysAgo(10))]);
    const response = await get("/api/usage/daily", await gw.tokenFor(alice.api_key));
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    const days = lastDays(Date.now(), 7);
    expect(body.data).toEqual([
      {
        client_id: alice.client_id,
        name: "Alice",
        days: days.map((date, i) => ({ date, total_requests: i === 6 ? 3 : i === 4 ? 2 : i === 0 ? 1 : 0 })),
      },
    ]);
  });

  it("answers HIT on a repeated read with no new hit, MISS after a hit, and the hit is already counted", async () => {
    const token = await gw.tokenFor(bob.api_key);
    const first = await get("/api/usage/daily", token);
    const second = await get("/api/usage/daily", token);
    expect(second.headers["x-cache"]).toBe("HIT");
    expect(second.json()).toEqual(first.json());
    await send(bob, many(1));
    const third = await get("/api/usage/daily", token);
    expect(third.headers["x-cache"]).toBe("MISS");
    expect(third.json().data[0].days[6].total_requests).toBe(first.json().data[0].days[6].total_requests + 1);
  });

  it("times the answered reads inside the gateway, per route, for /metrics", async () => {
    const token = await gw.tokenFor(bob.api_key);
    await get("/api/usage/daily", token);
    await get("/api/usage/top", admin);
    const text = (await gw.inject({ method: "GET", url: "/metrics" })).body;
    for (const route of ["/api/usage/daily", "/api/usage/top"]) {
      const count = new RegExp(`usage_read_seconds_count\\{route="${route}"\\} (\\d+)`).exec(text)?.[1];
      expect(Number(count), route).toBeGreaterThanOrEqual(1);
      expect(text).toContain(`usage_read_seconds{quantile="0.99",route="${route}"}`);
    }
  });

  it("lists every active client for the admin, by 7-day total, paged with a cursor", async () => {
    await send(bob, many(5));
    await send(carol, many(2));
    const seen: Array<{ client_id: string; total: number }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/api/usage/daily?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const response = await get(url, admin);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json();
      expect(body.data.length).toBeLessThanOrEqual(1);
      for (const row of body.data) {
        expect(row.days).toHaveLength(7);
        seen.push({
          client_id: row.client_id,
          total: row.days.reduce((s: number, d: { total_requests: number }) => s + d.total_requests, 0),
        });
      }
      cursor = body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    // Alice 3 + 2 + 1 and Bob 1 + 5 tie at 6: the lower client_id comes first.
    const tied = [alice.client_id, bob.client_id].sort();
    expect(seen).toEqual([
      { client_id: tied[0], total: 6 },
      { client_id: tied[1], total: 6 },
      { client_id: carol.client_id, total: 2 },
    ]);
  });

  it("ranks ties by client_id ascending", async () => {
    const response = await get("/api/usage/daily", admin);
    const rows = response.json().data as Array<{ client_id: string; days: Array<{ total_requests: number }> }>;
    const totals = rows.map((r) => ({ id: r.client_id, total: r.days.reduce((s, d) => s + d.total_requests, 0) }));
    const sorted = [...totals].sort((a, b) => b.total - a.total || (a.id < b.id ? -1 : 1));
    expect(totals).toEqual(sorted);
  });

  it("refuses a forged cursor with 400", async () => {
    expectError(await get("/api/usage/daily?cursor=garbage", admin), 400, "VALIDATION_ERROR");
    expectError(await get("/api/usage/daily?limit=0", admin), 400, "VALIDATION_ERROR");
    expectError(await get("/api/usage/daily?limit=1001", admin), 400, "VALIDATION_ERROR");
  });

  it("ranks the top clients of the last 24 hours, ties by client_id, at most `limit`", async () => {
    await pause(1000);
    const response = await get("/api/usage/top?limit=100", admin);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(Date.parse(body.window.to) - Date.parse(body.window.from)).toBeGreaterThanOrEqual(24 * 3_600_000);
    expect(Date.parse(body.window.to) - Date.parse(body.window.from)).toBeLessThanOrEqual(25 * 3_600_000);
    // Alice: 3 today (older hits are outside 24 h); Bob: 1 + 5; Carol: 2.
    expect(body.data).toEqual([
      { client_id: bob.client_id, name: "Bob", total_requests: 6 },
      { client_id: alice.client_id, name: "Alice", total_requests: 3 },
      { client_id: carol.client_id, name: "Carol", total_requests: 2 },
    ]);
    const limited = await get("/api/usage/top", admin);
    expect(limited.json().data).toHaveLength(3);
    const one = await get("/api/usage/top?limit=1", admin);
    expect(one.json().data).toEqual([{ client_id: bob.client_id, name: "Bob", total_requests: 6 }]);
  });

  it("reflects a hit in top one second after its 202, and answers HIT while nothing changed", async () => {
    await get("/api/usage/top", admin);
    expect((await get("/api/usage/top", admin)).headers["x-cache"]).toBe("HIT");
    await send(carol, many(10));
    await pause(1000);
    const after = await get("/api/usage/top?limit=1", admin);
    expect(after.json().data[0]).toEqual({ client_id: carol.client_id, name: "Carol", total_requests: 12 });
    const again = await get("/api/usage/top?limit=1", admin);
    expect(again.headers["x-cache"]).toBe("HIT");
    expect(again.json().data).toEqual(after.json().data);
  });

  it("keeps top to the admin: a client gets 403, no token 401", async () => {
    expectError(await get("/api/usage/top", await gw.tokenFor(alice.api_key)), 403, "FORBIDDEN");
    expectError(await gw.inject({ method: "GET", url: "/api/usage/top" }), 401, "UNAUTHORIZED");
    expectError(await gw.inject({ method: "GET", url: "/api/usage/daily" }), 401, "UNAUTHORIZED");
  });

  it("answers 403 to an admin token used from outside the allowlist", async () => {
    expectError(await get("/api/usage/top", admin, "198.51.100.7"), 403, "FORBIDDEN");
    expectError(await get("/api/usage/daily", admin, "198.51.100.7"), 403, "FORBIDDEN");
    const ok = await get("/api/usage/top", admin, "::1");
    expect(ok.statusCode).toBe(200);
  });

  it("answers 400 to a top limit outside 1..100", async () => {
    expectError(await get("/api/usage/top?limit=0", admin), 400, "VALIDATION_ERROR");
    expectError(await get("/api/usage/top?limit=101", admin), 400, "VALIDATION_ERROR");
  });
});
