import { randomUUID } from "node:crypto";
import type { InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, type TestClient } from "./helper.ts";

describe("client management: the errors", () => {
  let gw: GatewayHarness;
  let admin: string;
  let client: TestClient;
  beforeAll(async () => {
    gw = await buildGateway();
    admin = await gw.adminToken();
    client = await gw.register();
  });
  afterAll(async () => gw.close());

  const byAdmin = (method: InjectOptions["method"], url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    gw.inject({
      method,
      url,
      headers: { authorization: `Bearer ${admin}`, ...headers },
      ...(payload === undefined ? {} : { payload: payload as string }),
    });
  const routes = (id: string): Array<[InjectOptions["method"], string, unknown]> => [
    ["GET", `/api/clients/${id}`, undefined],
    ["GET", `/api/clients/${id}/quota`, undefined],
    ["PATCH", `/api/clients/${id}`, { name: "x" }],
    ["POST", `/api/clients/${id}/keys`, undefined],
    ["POST", `/api/clients/${id}/revoke`, undefined],
  ];

  it.each(routes(randomUUID()))("%s %s: an unknown id is 404 NOT_FOUND", async (method, url, payload) => {
    expectError(await byAdmin(method, url, payload), 404, "NOT_FOUND");
  });

  it.each([
    ...routes("not-a-uuid"),
    ...routes("00000000-0000-0000-0000-00000000000g"),
    ...routes("urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
  ])("%s %s: a malformed id is 400 VALIDATION_ERROR", async (method, url, payload) => {
    expectError(await byAdmin(method, url, payload), 400, "VALIDATION_ERROR");
  });

  it.each([
    ["limit=0"],
    ["limit=1001"],
    ["limit=ten"],
    ["cursor=bm90LWEtY3Vyc29y"],
    ["cursor=%5B%5D"],
    ["q="],
    [`q=${"a".repeat(255)}`],
    ["q=a%00b"],
    ["sort=name"],
  ])("GET /api/clients?%s is 400", async (query) => {
    expectError(await byAdmin("GET", `/api/clients?${query}`), 400, "VALIDATION_ERROR");
  });

  it.each([
    ["an empty patch", {}],
    ["an empty name", { name: "" }],
    ["a name over 100 characters", { name: "n".repeat(101) }],
    ["a name with NUL", { name: "a\u0000b" }],
    ["a number as name", { name: 7 }],
    ["a negative quota", { rate_limit_per_hour: -1 }],
    ["a quota over 1e9", { rate_limit_per_hour: 1_000_000_001 }],
    ["a fractional quota", { rate_limit_per_hour: 1.5 }],
    ["a quota as text", { rate_limit_per_hour: "10" }],
    ["an unknown field", { name: "x", email: "a@b.io" }],
    ["an array", [{ name: "x" }]],
  ])("PATCH with %s is 400", async (_what, payload) => {
    expectError(await byAdmin("PATCH", `/api/clients/${client.client_id}`, payload), 400, "VALIDATION_ERROR");
  });

  it("PATCH with malformed JSON is 400, with a text body 415", async () => {
    const url = `/api/clients/${client.client_id}`;
    expectError(await byAdmin("PATCH", url, "{", { "content-type": "application/json" }), 400, "VALIDATION_ERROR");
    expectError(await byAdmin("PATCH", url, "name=x", { "content-type": "text/plain" }), 415, "UNSUPPORTED_MEDIA_TYPE");
  });

  it.each([
    ["a negative grace", { grace_seconds: -1 }],
    ["a grace over a day", { grace_seconds: 86_401 }],
    ["a grace as text", { grace_seconds: "60" }],
    ["an unknown field", { grace: 60 }],
  ])("POST keys with %s is 400", async (_what, payload) => {
    expectError(await byAdmin("POST", `/api/clients/${client.client_id}/keys`, payload), 400, "VALIDATION_ERROR");
  });

  it("POST keys for a revoked client is 409 CONFLICT", async () => {
    const revoked = await gw.register();
    expect((await byAdmin("POST", `/api/clients/${revoked.client_id}/revoke`)).statusCode).toBe(200);
    expectError(await byAdmin("POST", `/api/clients/${revoked.client_id}/keys`, { grace_seconds: 60 }), 409, "CONFLICT");
  });

  it("a client asking about another client is 403 before its id is even validated", async () => {
    const token = await gw.tokenFor(client.api_key);
    const other = await gw.register();
    const as = { authorization: `Bearer ${token}` };
    for (const [method, url] of [
      ["GET", `/api/clients/${other.client_id}`],
      ["POST", `/api/clients/${other.client_id}/keys`],
      ["GET", "/api/clients/not-a-uuid"],
      ["PATCH", `/api/clients/${client.client_id}`],
      ["POST", `/api/clients/${client.client_id}/revoke`],
      ["GET", "/api/clients?limit=0"],
    ] as const) {
      expectError(await gw.inject({ method, url, headers: as }), 403, "FORBIDDEN");
    }
    // Nothing changed for the other client.
    const key = await gw.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": other.api_key } });
    expect(key.statusCode).toBe(200);
  });
});
