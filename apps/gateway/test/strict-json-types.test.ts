import { randomUUID } from "node:crypto";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient, uniqueEmail } from "./helper.ts";

/** Values of every JSON type but the one named, including the ones Ajv's coercion accepted. */
const NOT_STRING: unknown[] = [42, 4.5, 0, true, false, null, {}, [], ["text"], { value: "text" }];
const NOT_INTEGER: unknown[] = ["200", "2e2", 200.5, true, false, null, {}, [], [200]];
const NOT_ARRAY: unknown[] = [hit(), "hits", 1, true, null, {}];
const NOT_OBJECT: unknown[] = [42, "text", true, null, [], [{}]];

interface Field {
  /** The field's path under body/, as the error message names it. */
  path: string;
  wrong: unknown[];
  /** The body with `value` in the field. */
  body: (value: unknown) => unknown;
}

const field = (path: string, wrong: unknown[], body: (value: unknown) => unknown): Field => ({ path, wrong, body });

describe("JSON bodies are never coerced; query strings are", () => {
  let gw: GatewayHarness;
  let client: TestClient;
  beforeAll(async () => {
    // Every refused registration still counts against the per-IP registration limit.
    gw = await buildGateway({ REGISTER_LIMIT_PER_HOUR: "100000", RATE_LIMIT_PER_HOUR: "100000" });
    client = await gw.register();
  });
  afterAll(async () => gw.close());

  const routes: Array<{ url: string; headers: () => Record<string, string>; valid: () => unknown; fields: Field[] }> = [
    {
      url: "/api/register",
      headers: () => ({}),
      valid: () => ({ name: "Someone", email: uniqueEmail() }),
      fields: [
        field("name", NOT_STRING, (name) => ({ name, email: uniqueEmail() })),
        field("email", NOT_STRING, (email) => ({ name: "Someone", email })),
      ],
    },
    {
      url: "/api/auth/token",
      headers: () => ({}),
      valid: () => ({ api_key: client.api_key }),
      fields: [field("api_key", NOT_STRING, (api_key) => ({ api_key }))],
    },
    {
      url: "/api/logs",
      headers: () => ({ "x-api-key": client.api_key }),
      valid: () => hit({ event_id: randomUUID() }),
      fields: [
        field("api_key", NOT_STRING, (api_key) => hit({ api_key })),
        field("ip", NOT_STRING, (ip) => hit({ ip })),
        field("endpoint", NOT_STRING, (endpoint) => hit({ endpoint })),
        field("timestamp", NOT_STRING, (timestamp) => hit({ timestamp })),
        field("method", NOT_STRING, (method) => hit({ method })),
        field("status", NOT_INTEGER, (status) => hit({ status })),
        field("event_id", NOT_STRING, (event_id) => hit({ event_id })),
      ],
    },
    {
      url: "/api/logs/batch",
      headers: () => ({ "x-api-key": client.api_key }),
      valid: () => ({ hits: [hit(), hit()] }),
      fields: [
        field("hits", NOT_ARRAY, (hits) => ({ hits })),
        field("hits/1", NOT_OBJECT, (second) => ({ hits: [hit(), second] })),
        ...["ip", "endpoint", "timestamp", "method", "event_id"].map((name) =>
          field(`hits/1/${name}`, NOT_STRING, (value) => ({ hits: [hit(), hit({ [name]: value })] })),
        ),
        field("hits/1/status", NOT_INTEGER, (status) => ({ hits: [hit(), hit({ status })] })),
      ],
    },
  ];

  for (const route of routes) {
    it(`POST ${route.url}: accepts the well-typed body`, async () => {
      const response = await gw.inject({ method: "POST", url: route.url, headers: route.headers(), payload: route.valid() as object });
      expect(response.statusCode, response.body).toBeLessThan(300);
    });

    it(`POST ${route.url}: 400 VALIDATION_ERROR for a body that is not an object`, async () => {
      for (const body of NOT_OBJECT) {
        const response = await gw.inject({
          method: "POST",
          url: route.url,
          headers: { ...route.headers(), "content-type": "application/json" },
          payload: JSON.stringify(body),
        });
        expectError(response, 400, "VALIDATION_ERROR");
        expect(response.json().message, JSON.stringify(body)).toMatch(/^body must be object/);
      }
    });

    for (const { path, wrong, body } of route.fields) {
      it(`POST ${route.url}: 400 VALIDATION_ERROR for a wrong JSON type in ${path}`, async () => {
        for (const value of wrong) {
          const response = await gw.inject({
            method: "POST",
            url: route.url,
            headers: { ...route.headers(), "content-type": "application/json" },
            payload: JSON.stringify(body(value)),
          });
          expectError(response, 400, "VALIDATION_ERROR");
          expect(response.json().message, JSON.stringify(value)).toContain(`body/${path} must be`);
        }
      });
    }
  }

  it("compiles each route's validators once, at start, never while answering", async () => {
    const compile = vi.spyOn(Ajv.prototype, "compile");
    try {
      for (const route of routes) {
        await gw.inject({ method: "POST", url: route.url, headers: route.headers(), payload: route.valid() as object });
        await gw.inject({ method: "POST", url: route.url, headers: route.headers(), payload: { unexpected: 1 } });
      }
      expect(compile).not.toHaveBeenCalled();
    } finally {
      compile.mockRestore();
    }
  });

  it("reads ?limit=5 as the integer 5 on /api/usage/daily and /api/usage/top", async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => gw.register(`Limit ${i}`)));
    for (const each of clients) {
      const response = await gw.inject({ method: "POST", url: "/api/logs", headers: { "x-api-key": each.api_key }, payload: hit() });
      expect(response.statusCode, response.body).toBe(202);
    }
    const authorization = `Bearer ${await gw.adminToken()}`;
    const daily = await gw.inject({ method: "GET", url: "/api/usage/daily?limit=5", headers: { authorization } });
    expect(daily.statusCode, daily.body).toBe(200);
    expect(daily.json().data).toHaveLength(5);
    expect(daily.json().next_cursor).toEqual(expect.any(String));
    // The top list may lag a hit by up to a second (the contract's freshness bound).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const top = await gw.inject({ method: "GET", url: "/api/usage/top?limit=5", headers: { authorization } });
    expect(top.statusCode, top.body).toBe(200);
    expect(top.json().data).toHaveLength(5);
    // Still validated as an integer: text that is not one is refused.
    expectError(await gw.inject({ method: "GET", url: "/api/usage/top?limit=five", headers: { authorization } }), 400, "VALIDATION_ERROR");
    expectError(await gw.inject({ method: "GET", url: "/api/usage/daily?limit=2.5", headers: { authorization } }), 400, "VALIDATION_ERROR");
  });
});
