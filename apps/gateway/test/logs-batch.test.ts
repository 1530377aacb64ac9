import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";

describe("POST /api/logs/batch", () => {
  let gw: GatewayHarness;
  let client: TestClient;
  beforeAll(async () => {
    gw = await buildGateway({ RATE_LIMIT_PER_HOUR: "100000" });
    client = await gw.register();
  });
  afterAll(async () => gw.close());

  const post = (hits: unknown[], headers: Record<string, string> = { "x-api-key": client.api_key }) =>
    gw.inject({ method: "POST", url: "/api/logs/batch", headers, payload: { hits } });
  const remaining = async () => Number((await post([{}])).headers["x-ratelimit-remaining"]);

  it("accepts up to 1000 hits and answers ids in input order", async () => {
    const eventIds = Array.from({ length: 1000 }, () => randomUUID());
    const response = await post(eventIds.map((event_id) => hit({ event_id })));
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json()).toEqual({ accepted: 1000, duplicates: 0, ids: eventIds });
  });

  it("counts duplicates, inside the batch and against earlier hits, once and for free", async () => {
    const seen = randomUUID();
    await post([hit({ event_id: seen })]);
    const before = await remaining();
    const repeated = randomUUID();
    const response = await post([hit({ event_id: seen }), hit({ event_id: repeated }), hit({ event_id: repeated }), hit()]);
    expect(response.statusCode, response.body).toBe(202);
    const body = response.json();
    expect(body).toMatchObject({ accepted: 2, duplicates: 2 });
    expect(body.ids.slice(0, 3)).toEqual([seen, repeated, repeated]);
    expect(await remaining()).toBe(before - 2);
  });

  it("is all or nothing: one invalid hit refuses the batch with its index named", async () => {
    const before = await remaining();
    const response = await post([hit(), hit(), hit({ ip: "300.1.1.1" }), hit()]);
    expectError(response, 400, "VALIDATION_ERROR");
    expect(response.json().message).toContain("body/hits/2/ip");
    expect(await remaining()).toBe(before);
  });

  it("names the index of a hit whose timestamp is out of the window", async () => {
    const response = await post([hit(), hit({ timestamp: new Date(Date.now() + 3_600_000).toISOString() })]);
    expectError(response, 400, "VALIDATION_ERROR");
    expect(response.json().message).toContain("body/hits/1/timestamp");
  });

  it.each([
    ["an empty batch", { hits: [] }],
    ["1001 hits", { hits: Array.from({ length: 1001 }, () => hit()) }],
    ["no hits field", {}],
    ["hits that is not an array", { hits: "x" }],
  ])("answers 400 to %s", async (_what, payload) => {
    const response = await gw.inject({ method: "POST", url: "/api/logs/batch", headers: { "x-api-key": client.api_key }, payload });
    expectError(response, 400, "VALIDATION_ERROR");
  });

  it("does not take the key from the body", async () => {
    const response = await gw.inject({ method: "POST", url: "/api/logs/batch", payload: { api_key: client.api_key, hits: [hit()] } });
    expectError(response, 401, "UNAUTHORIZED");
  });

  it("accepts a client bearer token", async () => {
    const token = await gw.tokenFor(client.api_key);
    const response = await post([hit()], { authorization: `Bearer ${token}` });
    expect(response.statusCode, response.body).toBe(202);
  });
});
