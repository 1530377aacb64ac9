import { randomUUID } from "node:crypto";
import { lastDays } from "@usage/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";

const DAY = 86_400_000;

describe("GET /api/usage/daily?client_ids=… (the admin's chosen clients)", () => {
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

  const send = async (client: TestClient, n: number, timestamp = new Date().toISOString()) => {
    const hits = Array.from({ length: n }, () => hit({ timestamp }));
    const response = await gw.inject({
      method: "POST",
      url: "/api/logs/batch",
      headers: { "x-api-key": client.api_key },
      payload: { hits },
    });
    expect(response.statusCode, response.body).toBe(202);
  };
  const daily = (query: string, token = admin) =>
    gw.inject({ method: "GET", url: `/api/usage/daily?${query}`, headers: { authorization: `Bearer ${token}` } });
  const totals = (body: { data: Array<{ client_id: string; days: Array<{ total_requests: number }> }> }) =>
    body.data.map((row) => [row.client_id, row.days.map((d) => d.total_requests)]);

  it("answers one row per known id in the order given: zero-filled without hits, unknown ids left out, next_cursor null", async () => {
    await send(alice, 3);
    await send(alice, 2, new Date(Date.now() - 2 * DAY).toISOString());
    await send(carol, 1);
    const response = await daily(`client_ids=${bob.client_id},${randomUUID()},${alice.client_id},${carol.client_id}`);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.next_cursor).toBeNull();
    const days = lastDays(Date.now(), 7);
    expect(body.data[0]).toEqual({ client_id: bob.client_id, name: "Bob", days: days.map((date) => ({ date, total_requests: 0 })) });
    expect(totals(body)).toEqual([
      [bob.client_id, [0, 0, 0, 0, 0, 0, 0]],
      [alice.client_id, [0, 0, 0, 0, 2, 0, 3]],
      [carol.client_id, [0, 0, 0, 0, 0, 0, 1]],
    ]);
    expect(body.data.map((row: { name: string }) => row.name)).toEqual(["Bob", "Alice", "Carol"]);
  });

  it("takes ids in any case and names each client once, by its lower-case id", async () => {
    const response = await daily(`client_ids=${carol.client_id.toUpperCase()},${alice.client_id},${carol.client_id}`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().data.map((row: { client_id: string }) => row.client_id)).toEqual([carol.client_id, alice.client_id]);
  });

  it("answers [] when no id is a client", async () => {
    const response = await daily(`client_ids=${randomUUID()}`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ data: [], next_cursor: null });
  });

  it("answers HIT on a repeat with no new hit, MISS after one, and the hit is already counted", async () => {
    const query = `client_ids=${carol.client_id},${bob.client_id}`;
    const first = await daily(query);
    const second = await daily(query);
    expect(second.headers["x-cache"]).toBe("HIT");
    expect(second.json()).toEqual(first.json());
    // Another list is another entry.
    expect((await daily(`client_ids=${bob.client_id},${carol.client_id}`)).headers["x-cache"]).toBe("MISS");
    await send(bob, 4);
    const third = await daily(query);
    expect(third.headers["x-cache"]).toBe("MISS");
    expect(totals(third.json())).toEqual([
      [carol.client_id, [0, 0, 0, 0, 0, 0, 1]],
      [bob.client_id, [0, 0, 0, 0, 0, 0, 4]],
    ]);
  });

  it("takes 100 ids, refuses 101", async () => {
    const ids = [alice.client_id, ...Array.from({ length: 99 }, () => randomUUID())];
    const response = await daily(`client_ids=${ids.join(",")}`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().data.map((row: { client_id: string }) => row.client_id)).toEqual([alice.client_id]);
    const over = await daily(`client_ids=${[...ids, randomUUID()].join(",")}`);
    expectError(over, 400, "VALIDATION_ERROR");
    expect(over.json().message).toContain("querystring/client_ids");
  });

  it.each([
    ["empty", "client_ids="],
    ["not a uuid", "client_ids=not-a-uuid"],
    ["a trailing comma", `client_ids=${randomUUID()},`],
    ["a space after the comma", `client_ids=${randomUUID()},%20${randomUUID()}`],
    ["a urn", `client_ids=urn:uuid:${randomUUID()}`],
    ["given twice", `client_ids=${randomUUID()}&client_ids=${randomUUID()}`],
  ])("a malformed list (%s) is 400 naming querystring/client_ids", async (_what, query) => {
    const response = await daily(query);
    expectError(response, 400, "VALIDATION_ERROR");
    expect(response.json().message).toContain("querystring/client_ids");
  });

  it.each([["limit=10"], ["cursor=abc"]])("client_ids with %s is 400", async (paging) => {
    const response = await daily(`client_ids=${alice.client_id}&${paging}`);
    expectError(response, 400, "VALIDATION_ERROR");
    expect(response.json().message).toContain("querystring/client_ids");
  });

  it("is the admin's: a client token that passes client_ids gets 403, even a malformed one; a stranger 401", async () => {
    const token = await gw.tokenFor(alice.api_key);
    expectError(await daily(`client_ids=${alice.client_id}`, token), 403, "FORBIDDEN");
    expectError(await daily("client_ids=nope", token), 403, "FORBIDDEN");
    expectError(await gw.inject({ method: "GET", url: `/api/usage/daily?client_ids=${alice.client_id}` }), 401, "UNAUTHORIZED");
    // Without it, the client still reads itself.
    expect((await daily("", token)).statusCode).toBe(200);
  });

  it("documents client_ids in the OpenAPI document", async () => {
    const doc = (await gw.inject({ method: "GET", url: "/docs/json" })).json();
    const parameter = doc.paths["/api/usage/daily"].get.parameters.find((p: { name: string }) => p.name === "client_ids");
    expect(parameter).toMatchObject({ in: "query", required: false });
    expect(parameter.description ?? parameter.schema.description).toContain("comma-separated client ids");
  });
});
