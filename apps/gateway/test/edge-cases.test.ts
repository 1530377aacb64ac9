import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toAppError } from "../src/http/errors.ts";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";

describe("edge cases of the contract", () => {
  let gw: GatewayHarness;
  let client: TestClient;
  beforeAll(async () => {
    gw = await buildGateway();
    client = await gw.register();
  });
  afterAll(async () => gw.close());

  it("refuses an unknown field instead of dropping it (a misspelt event_id must not count twice)", async () => {
    const response = await gw.inject({
      method: "POST",
      url: "/api/logs",
      headers: { "x-api-key": client.api_key },
      payload: hit({ eventId: randomUUID() }),
    });
    expectError(response, 400, "VALIDATION_ERROR");
    expect(response.json().message).toMatch(/additional properties/);
  });

  it("refuses an event_id that is not a bare UUID (the urn: form), and treats case as the same id", async () => {
    const urn = await gw.inject({
      method: "POST",
      url: "/api/logs",
      headers: { "x-api-key": client.api_key },
      payload: hit({ event_id: `urn:uuid:${randomUUID()}` }),
    });
    expectError(urn, 400, "VALIDATION_ERROR");
    const id = randomUUID();
    const first = await gw.inject({
      method: "POST",
      url: "/api/logs",
      headers: { "x-api-key": client.api_key },
      payload: hit({ event_id: id.toUpperCase() }),
    });
    const second = await gw.inject({
      method: "POST",
      url: "/api/logs",
      headers: { "x-api-key": client.api_key },
      payload: hit({ event_id: id }),
    });
    expect(first.json()).toEqual({ id, duplicate: false });
    expect(second.json()).toEqual({ id, duplicate: true });
  });

  it("authenticates before validating the query: 401 for a stranger, 403 for a client on the admin route", async () => {
    expectError(await gw.inject({ method: "GET", url: "/api/usage/top?limit=abc" }), 401, "UNAUTHORIZED");
    const token = await gw.tokenFor(client.api_key);
    expectError(
      await gw.inject({ method: "GET", url: "/api/usage/top?limit=500", headers: { authorization: `Bearer ${token}` } }),
      403,
      "FORBIDDEN",
    );
  });

  it("answers 401 to a stranger whatever the body, 400 to malformed JSON from a known caller", async () => {
    expectError(
      await gw.inject({
        method: "POST",
        url: "/api/logs",
        headers: { "content-type": "application/json", "x-api-key": "uk_x" },
        payload: "{",
      }),
      401,
      "UNAUTHORIZED",
    );
    expectError(
      await gw.inject({
        method: "POST",
        url: "/api/logs",
        headers: { "content-type": "application/json", "x-api-key": client.api_key },
        payload: "{",
      }),
      400,
      "VALIDATION_ERROR",
    );
  });

  it("exchanges a header key even with a JSON content type and no body", async () => {
    const response = await gw.inject({
      method: "POST",
      url: "/api/auth/token",
      headers: { "content-type": "application/json", "x-api-key": client.api_key },
    });
    expect(response.statusCode, response.body).toBe(200);
  });

  it("answers a plain GET on the stream route in the contract's shape", async () => {
    expectError(await gw.inject({ method: "GET", url: "/api/usage/stream" }), 400, "VALIDATION_ERROR");
  });

  it("maps an unreachable database or Redis to 503 UNAVAILABLE, never a 500", () => {
    for (const error of [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
      new Error("timeout exceeded when trying to connect"),
      Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }),
      new Error("Connection is closed."),
    ]) {
      expect(toAppError(error)).toMatchObject({ code: "UNAVAILABLE", statusCode: 503 });
    }
    expect(toAppError(new Error("something else")).code).toBe("INTERNAL_ERROR");
  });
});
