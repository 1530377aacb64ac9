import { randomUUID } from "node:crypto";
import { eventually, startTcpProxy, type TcpProxy, TEST_REDIS_URL } from "@usage/testkit";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, type TestClient } from "./helper.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const RETENTION_DAYS = 30;

const as = (bearer: string) => ({ authorization: `Bearer ${bearer}` });
const lastDay = () => ({ from: new Date(Date.now() - DAY_MS).toISOString(), to: new Date().toISOString() });

describe("exports: what is refused", () => {
  let gw: GatewayHarness;
  let admin: string;
  let client: TestClient;
  let token: string;
  let other: TestClient;
  let otherToken: string;
  beforeAll(async () => {
    gw = await buildGateway({ RETENTION_DAYS: String(RETENTION_DAYS), MAX_EVENT_AGE_DAYS: "7" });
    admin = await gw.adminToken();
    client = await gw.register();
    token = await gw.tokenFor(client.api_key);
    other = await gw.register();
    otherToken = await gw.tokenFor(other.api_key);
  });
  afterAll(async () => gw.close());

  const create = (bearer: string, payload: object) => gw.inject({ method: "POST", url: "/api/exports", headers: as(bearer), payload });
  const call = (method: "GET" | "POST", url: string, bearer: string) => gw.inject({ method, url, headers: as(bearer) });
  /** Clears a caller's unfinished exports, so each test starts below the limit. */
  const finishAll = (owner: string) =>
    gw.db
      .updateTable("exports")
      .set({ status: "failed" })
      .where("owner", "=", owner)
      .where("status", "in", ["queued", "running"])
      .execute();

  it("a stranger gets 401 before anything is validated", async () => {
    expectError(await gw.inject({ method: "POST", url: "/api/exports", payload: { from: "nope" } }), 401, "UNAUTHORIZED");
    expectError(await gw.inject({ method: "GET", url: "/api/exports/not-a-uuid" }), 401, "UNAUTHORIZED");
    expectError(await gw.inject({ method: "GET", url: "/api/exports/not-a-uuid/download" }), 401, "UNAUTHORIZED");
  });

  it("a client naming another client: 403, and nothing is stored", async () => {
    expectError(await create(token, { ...lastDay(), client_id: other.client_id }), 403, "FORBIDDEN");
    expect(await gw.db.selectFrom("exports").select("export_id").where("client_id", "=", other.client_id).execute()).toEqual([]);
  });

  it("the admin naming an unknown client: 404", async () => {
    expectError(await create(admin, { ...lastDay(), client_id: randomUUID() }), 404, "NOT_FOUND");
  });

  it.each([
    ["from after to", { from: new Date().toISOString(), to: new Date(Date.now() - HOUR_MS).toISOString() }],
    ["from equal to to", ((at) => ({ from: at, to: at }))(new Date(Date.now() - HOUR_MS).toISOString())],
    ["a date that does not exist", { from: "2026-02-30T00:00:00Z", to: "2026-03-01T00:00:00Z" }],
    ["not a date-time", { from: "yesterday", to: new Date().toISOString() }],
    ["a number", { from: 0, to: new Date().toISOString() }],
    ["an unknown field", { ...lastDay(), format: "csv" }],
    ["a malformed client_id", { ...lastDay(), client_id: "not-a-uuid" }],
    ["no to", { from: new Date().toISOString() }],
  ])("400 for %s", async (_name, payload) => {
    expectError(await create(token, payload), 400, "VALIDATION_ERROR");
  });

  it("from beyond the retention limit: 400 naming RETENTION_DAYS; just inside it: 202", async () => {
    const to = new Date().toISOString();
    const tooOld = await create(token, { from: new Date(Date.now() - (RETENTION_DAYS + 1) * DAY_MS).toISOString(), to });
    expectError(tooOld, 400, "VALIDATION_ERROR");
    expect(tooOld.json().message).toContain("RETENTION_DAYS");
    expect(tooOld.json().message).toContain(String(RETENTION_DAYS));
    // Older than MAX_EVENT_AGE_DAYS is fine: what counts is what is still stored. No upper limit on `to`.
    const oldest = await create(token, {
      from: new Date(Date.now() - RETENTION_DAYS * DAY_MS + 60_000).toISOString(),
      to: "2100-01-01T00:00:00Z",
    });
    expect(oldest.statusCode, oldest.body).toBe(202);
    await finishAll(client.client_id);
  });

  it("a fourth unfinished export: 429 with retry-after; a finished one frees a place", async () => {
    await finishAll(client.client_id);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await create(token, lastDay());
      expect(response.statusCode, response.body).toBe(202);
      ids.push(response.json().export_id);
    }
    const refused = await create(token, lastDay());
    expectError(refused, 429, "RATE_LIMITED");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    // Per caller: another client and the admin are not held back.
    expect((await create(otherToken, lastDay())).statusCode).toBe(202);
    expect((await create(admin, lastDay())).statusCode).toBe(202);
    expect((await call("POST", `/api/exports/${ids[0]}/cancel`, token)).json()).toMatchObject({ status: "cancelled" });
    expect((await create(token, lastDay())).statusCode).toBe(202);
    await Promise.all([finishAll(client.client_id), finishAll(other.client_id), finishAll("admin")]);
  });

  it("six creates at once: exactly three accepted, three 429", async () => {
    await finishAll(client.client_id);
    const responses = await Promise.all(Array.from({ length: 6 }, () => create(token, lastDay())));
    const statuses = responses.map((r) => r.statusCode).sort();
    expect(statuses, responses.map((r) => r.body).join("\n")).toEqual([202, 202, 202, 429, 429, 429]);
    const unfinished = await gw.db
      .selectFrom("exports")
      .select("export_id")
      .where("owner", "=", client.client_id)
      .where("status", "in", ["queued", "running"])
      .execute();
    expect(unfinished).toHaveLength(3);
    await finishAll(client.client_id);
  });
});

describe("exports: the export queue unreachable", () => {
  let proxy: TcpProxy;
  let gw: GatewayHarness;
  beforeAll(async () => {
    proxy = await startTcpProxy(Number(new URL(TEST_REDIS_URL).port || 6379), new URL(TEST_REDIS_URL).hostname);
    gw = await buildGateway({ REDIS_URL: proxy.url("redis") });
  });
  afterAll(async () => {
    proxy?.restore();
    await gw?.close();
    await proxy?.close();
  });

  it("503 UNAVAILABLE, and the export is marked failed instead of holding a place", async () => {
    const client = await gw.register();
    const token = await gw.tokenFor(client.api_key);
    proxy.cut();
    let response: LightMyRequestResponse | undefined;
    await eventually(async () => {
      response = await gw.inject({ method: "POST", url: "/api/exports", headers: as(token), payload: lastDay() });
      return response.statusCode === 503 ? true : undefined;
    }, 10_000);
    expectError(response as LightMyRequestResponse, 503, "UNAVAILABLE");
    const rows = await gw.db.selectFrom("exports").select(["status", "error"]).where("owner", "=", client.client_id).execute();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toEqual({ status: "failed", error: "the export could not be queued" });
  });
});
