import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertChunks, insertExport } from "./export-fixtures.ts";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";

/**
 * One matrix for every protected route: who may call it, who gets 401 and who 403.
 * `expected` per caller: the status class the route must answer.
 */
interface RouteCase {
  name: string;
  method: "GET" | "POST" | "PATCH";
  /** A fixed path, or one naming a client (the caller's own id in the `client` row). */
  url: string | ((clientId: string) => string);
  payload?: unknown;
  /** `otherClient`: a client token on a path naming another client, for the routes that name one. */
  expected: { none: 401; badToken: 401; client: number; admin: number; adminOutside: 403; otherClient?: 403 };
  /** Rows the route needs, written once the client is registered (an export of the client's). */
  prepare?: (gw: GatewayHarness, client: TestClient) => Promise<void>;
}

/** The client's completed export that the export routes name. */
let exportId = "";
const completedExport = async (gw: GatewayHarness, client: TestClient): Promise<void> => {
  exportId = await insertExport(gw.db, { owner: client.client_id, status: "completed", processed: 1 });
  await insertChunks(gw.db, exportId, [Buffer.from("row\r\n")]);
};
const lastHour = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date().toISOString() };

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
    name: "GET /api/clients",
    method: "GET",
    url: "/api/clients",
    expected: { none: 401, badToken: 401, client: 403, admin: 200, adminOutside: 403 },
  },
  {
    name: "GET /api/clients/{client_id}",
    method: "GET",
    url: (id) => `/api/clients/${id}`,
    expected: { none: 401, badToken: 401, client: 200, admin: 200, adminOutside: 403, otherClient: 403 },
  },
  {
    name: "GET /api/clients/{client_id}/quota",
    method: "GET",
    url: (id) => `/api/clients/${id}/quota`,
    expected: { none: 401, badToken: 401, client: 200, admin: 200, adminOutside: 403, otherClient: 403 },
  },
  {
    name: "PATCH /api/clients/{client_id}",
    method: "PATCH",
    url: (id) => `/api/clients/${id}`,
    payload: { name: "Patched" },
    expected: { none: 401, badToken: 401, client: 403, admin: 200, adminOutside: 403, otherClient: 403 },
  },
  {
    name: "POST /api/clients/{client_id}/keys",
    method: "POST",
    url: (id) => `/api/clients/${id}/keys`,
    payload: { grace_seconds: 60 },
    expected: { none: 401, badToken: 401, client: 201, admin: 201, adminOutside: 403, otherClient: 403 },
  },
  {
    name: "POST /api/clients/{client_id}/revoke",
    method: "POST",
    url: (id) => `/api/clients/${id}/revoke`,
    expected: { none: 401, badToken: 401, client: 403, admin: 200, adminOutside: 403, otherClient: 403 },
  },
  {
    name: "POST /api/exports",
    method: "POST",
    url: "/api/exports",
    payload: lastHour,
    expected: { none: 401, badToken: 401, client: 202, admin: 202, adminOutside: 403 },
  },
  {
    name: "GET /api/exports/{export_id}",
    method: "GET",
    url: () => `/api/exports/${exportId}`,
    prepare: completedExport,
    expected: { none: 401, badToken: 401, client: 200, admin: 200, adminOutside: 403 },
  },
  {
    name: "POST /api/exports/{export_id}/cancel",
    method: "POST",
    url: () => `/api/exports/${exportId}/cancel`,
    prepare: completedExport,
    expected: { none: 401, badToken: 401, client: 200, admin: 200, adminOutside: 403 },
  },
  {
    name: "GET /api/exports/{export_id}/download",
    method: "GET",
    url: () => `/api/exports/${exportId}/download`,
    prepare: completedExport,
    expected: { none: 401, badToken: 401, client: 200, admin: 200, adminOutside: 403 },
  },
  {
    name: "GET /api/ops/stats",
    method: "GET",
    url: "/api/ops/stats",
    expected: { none: 401, badToken: 401, client: 403, admin: 200, adminOutside: 403 },
  },
  {
    name: "GET /api/ops/queue/failed",
    method: "GET",
    url: "/api/ops/queue/failed",
    expected: { none: 401, badToken: 401, client: 403, admin: 200, adminOutside: 403 },
  },
  {
    name: "POST /api/ops/queue/retry",
    method: "POST",
    url: "/api/ops/queue/retry",
    payload: {},
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
  let other: TestClient;
  beforeAll(async () => {
    gw = await buildGateway();
    client = await gw.register();
    clientToken = await gw.tokenFor(client.api_key);
    adminToken = await gw.adminToken();
    other = await gw.register();
    await route.prepare?.(gw, client);
  });
  afterAll(async () => gw.close());

  const call = (headers: Record<string, string>, remoteAddress?: string, clientId = client.client_id) =>
    gw.inject({
      method: route.method,
      url: typeof route.url === "string" ? route.url : route.url(clientId),
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
  if (route.expected.otherClient !== undefined) {
    it("a client token on another client's id", async () => {
      expectError(await call({ authorization: `Bearer ${clientToken}` }, undefined, other.client_id), 403, "FORBIDDEN");
    });
  }
  it("an admin token", async () => {
    const response = await call({ authorization: `Bearer ${adminToken}` });
    expect(response.statusCode, response.body).toBe(route.expected.admin);
  });
  it("an admin token from outside the allowlist", async () => {
    expectError(await call({ authorization: `Bearer ${adminToken}` }, "192.0.2.50"), 403, "FORBIDDEN");
  });
});
