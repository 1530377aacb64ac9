import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";

/**
 * One matrix for every protected route: who may call it, who gets 401 and who 403.
 * `expected` per caller: the status class the route must answer.
 */
interface RouteCase {
  name: string;
  method: "GET" | "POST";
  url: string;
  payload?: unknown;
  expected: { none: 401; badToken: 401; client: number; admin: number; adminOutside: 403 };
}

const ROUTES: RouteCase[] = [
  {
    name: "POST /api/logs",
    method: "POST",
    url: "/api/logs",
    payload: hit(),
    expected: { none: 401, badToken: 401, client: 202, admin: 403, adminOutside: 403 },
  },
  {
    name: "POST /api/logs/batch",
    method: "POST",
    url: "/api/logs/batch",
    payload: { hits: [hit()] },
    expected: { none: 401, badToken: 401, client: 202, admin: 403, adminOutside: 403 },
  },
  {
    name: "GET /api/usage/daily",
    method: "GET",
    url: "/api/usage/daily",
    expected: { none: 401, badToken: 401, client: 200, admin: 200, adminOutside: 403 },
  },
  {
    name: "GET /api/usage/top",
    method: "GET",
    url: "/api/usage/top",
    expected: { none: 401, badToken: 401, client: 403, admin: 200, adminOutside: 403 },
  },
  {
    name: "GET /api/ops/stats",
    method: "GET",
    url: "/api/ops/stats",
    expected: { none: 401, badToken: 401, client: 403, admin: 200, adminOutside: 403 },
  },
  // Bull Board: its page, its API and its static files, all behind the same guard.
  {
    name: "GET /admin/queues",
    method: "GET",
    url: "/admin/queues",
    expected: { none: 401, badToken: 401, client: 403, admin: 200, adminOutside: 403 },
  },
  {
    name: "GET /admin/queues/api/queues",
    method: "GET",
    url: "/admin/queues/api/queues",
    expected: { none: 401, badToken: 401, client: 403, admin: 200, adminOutside: 403 },
  },
  {
    name: "GET /admin/queues/static/favicon-32x32.png",
    method: "GET",
    url: "/admin/queues/static/favicon-32x32.png",
    expected: { none: 401, badToken: 401, client: 403, admin: 200, adminOutside: 403 },
  },
];

describe.each(ROUTES)("auth matrix: $name", (route) => {
  let gw: GatewayHarness;
  let client: TestClient;
  let clientToken: string;
  let adminToken: string;
  beforeAll(async () => {
    gw = await buildGateway();
    client = await gw.register();
    clientToken = await gw.tokenFor(client.api_key);
    adminToken = await gw.adminToken();
  });
  afterAll(async () => gw.close());

  const call = (headers: Record<string, string>, remoteAddress?: string) =>
    gw.inject({
      method: route.method,
      url: route.url,
      headers,
      ...(route.payload ? { payload: route.payload as object } : {}),
      ...(remoteAddress ? { remoteAddress } : {}),
    });

  it("no credentials", async () => expectError(await call({}), route.expected.none, "UNAUTHORIZED"));
  it("a bad token", async () => expectError(await call({ authorization: "Bearer x.y.z" }), route.expected.badToken, "UNAUTHORIZED"));
  it("a client token", async () => {
    const response = await call({ authorization: `Bearer ${clientToken}` });
    expect(response.statusCode, response.body).toBe(route.expected.client);
  });
  it("an admin token", async () => {
    const response = await call({ authorization: `Bearer ${adminToken}` });
    expect(response.statusCode, response.body).toBe(route.expected.admin);
  });
  it("an admin token from outside the allowlist", async () => {
    expectError(await call({ authorization: `Bearer ${adminToken}` }, "192.0.2.50"), 403, "FORBIDDEN");
  });
});
