import { randomUUID } from "node:crypto";
import { HOUR_MS } from "@usage/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";

const DEFAULT_QUOTA = 40;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("GET /api/clients/{client_id}/quota", () => {
  let gw: GatewayHarness;
  let admin: string;
  let client: TestClient;
  let clientToken: string;
  beforeAll(async () => {
    // Quotas are fixed UTC hours: start well inside one, so the counts below cannot reset mid-test.
    const left = HOUR_MS - (Date.now() % HOUR_MS);
    if (left < 20_000) await pause(left + 100);
    gw = await buildGateway({ RATE_LIMIT_PER_HOUR: String(DEFAULT_QUOTA) });
    admin = await gw.adminToken();
    client = await gw.register();
    clientToken = await gw.tokenFor(client.api_key);
  });
  afterAll(async () => gw.close());

  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const quota = (id: string, token = admin) => gw.inject({ method: "GET", url: `/api/clients/${id}/quota`, headers: as(token) });
  const send = async (apiKey: string, n: number) => {
    const response = await gw.inject({
      method: "POST",
      url: "/api/logs/batch",
      headers: { "x-api-key": apiKey },
      payload: { hits: Array.from({ length: n }, () => hit()) },
    });
    expect(response.statusCode, response.body).toBe(202);
  };
  const patch = async (id: string, payload: object) => {
    const response = await gw.inject({ method: "PATCH", url: `/api/clients/${id}`, headers: as(admin), payload });
    expect(response.statusCode, response.body).toBe(200);
  };

  it("answers a fresh client with the default limit, nothing used, reset at the top of the next UTC hour", async () => {
    const response = await quota(client.client_id);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(["client_id", "limit_per_hour", "remaining", "reset_at", "used"]);
    expect(body).toMatchObject({ client_id: client.client_id, limit_per_hour: DEFAULT_QUOTA, used: 0, remaining: DEFAULT_QUOTA });
    expect(body.reset_at).toBe(new Date((Math.floor(Date.now() / HOUR_MS) + 1) * HOUR_MS).toISOString());
  });

  it("counts the hits posted this hour, as the hit routes' headers do, for the admin and the client itself", async () => {
    await send(client.api_key, 3);
    await send(client.api_key, 2);
    const byAdmin = (await quota(client.client_id)).json();
    expect(byAdmin).toMatchObject({ used: 5, remaining: DEFAULT_QUOTA - 5 });
    const bySelf = await quota(client.client_id.toUpperCase(), clientToken);
    expect(bySelf.statusCode, bySelf.body).toBe(200);
    expect(bySelf.json()).toEqual(byAdmin);

    const next = await gw.inject({ method: "POST", url: "/api/logs", headers: { "x-api-key": client.api_key }, payload: hit() });
    expect(next.headers["x-ratelimit-remaining"]).toBe(String(DEFAULT_QUOTA - 6));
    expect((await quota(client.client_id)).json()).toMatchObject({ used: 6, remaining: DEFAULT_QUOTA - 6 });
  });

  it("follows PATCH rate_limit_per_hour at once: a new limit, remaining never below 0, null the default again", async () => {
    const other = await gw.register();
    await send(other.api_key, 4);
    await patch(other.client_id, { rate_limit_per_hour: 10 });
    expect((await quota(other.client_id)).json()).toMatchObject({ limit_per_hour: 10, used: 4, remaining: 6 });
    await patch(other.client_id, { rate_limit_per_hour: 3 });
    expect((await quota(other.client_id)).json()).toMatchObject({ limit_per_hour: 3, used: 4, remaining: 0 });
    await patch(other.client_id, { rate_limit_per_hour: null });
    expect((await quota(other.client_id)).json()).toMatchObject({ limit_per_hour: DEFAULT_QUOTA, used: 4, remaining: DEFAULT_QUOTA - 4 });
  });

  it("refuses another client's token (403, before the id is validated), strangers (401), unknown (404) and malformed ids (400)", async () => {
    const other = await gw.register();
    expectError(await quota(other.client_id, clientToken), 403, "FORBIDDEN");
    expectError(await quota("not-a-uuid", clientToken), 403, "FORBIDDEN");
    expectError(await gw.inject({ method: "GET", url: `/api/clients/${client.client_id}/quota` }), 401, "UNAUTHORIZED");
    expectError(await quota(client.client_id, "x.y.z"), 401, "UNAUTHORIZED");
    expectError(await quota(randomUUID()), 404, "NOT_FOUND");
    expectError(await quota("not-a-uuid"), 400, "VALIDATION_ERROR");
    expectError(await quota("00000000-0000-0000-0000-00000000000g"), 400, "VALIDATION_ERROR");
  });

  it("is in the OpenAPI document with a schema for every answer", async () => {
    const doc = (await gw.inject({ method: "GET", url: "/docs/json" })).json();
    const route = doc.paths["/api/clients/{client_id}/quota"]?.get;
    expect(Object.keys(route?.responses ?? {}).sort()).toEqual(["200", "400", "401", "403", "404", "503"]);
    expect(Object.keys(route.responses["200"].content["application/json"].schema.properties).sort()).toEqual([
      "client_id",
      "limit_per_hour",
      "remaining",
      "reset_at",
      "used",
    ]);
  });

  it("of a revoked client: the admin still reads it, the client's own token gets 401", async () => {
    const revoked = await gw.register();
    const token = await gw.tokenFor(revoked.api_key);
    await send(revoked.api_key, 2);
    expect((await gw.inject({ method: "POST", url: `/api/clients/${revoked.client_id}/revoke`, headers: as(admin) })).statusCode).toBe(200);
    const byAdmin = await quota(revoked.client_id);
    expect(byAdmin.statusCode, byAdmin.body).toBe(200);
    expect(byAdmin.json()).toMatchObject({ client_id: revoked.client_id, used: 2 });
    expectError(await quota(revoked.client_id, token), 401, "UNAUTHORIZED");
  });
});
