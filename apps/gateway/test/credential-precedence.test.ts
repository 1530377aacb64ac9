import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";

/**
 * Which credential wins when several are sent: the table at the top of
 * src/ingest/hit-auth.ts and in docs/auth.md. A bad credential stands for "this one was
 * used" (401) and a good one beside it for "the other one was not".
 */

const BAD_KEY = "uk_not-a-key-this-service-issued";
const BAD_BEARER = "Bearer not.a.jwt";

describe("credential precedence", () => {
  let gw: GatewayHarness;
  let client: TestClient;
  let other: TestClient;
  let bearer: string;
  beforeAll(async () => {
    gw = await buildGateway();
    client = await gw.register();
    other = await gw.register();
    bearer = `Bearer ${await gw.tokenFor(client.api_key)}`;
  });
  afterAll(async () => gw.close());

  describe("POST /api/logs", () => {
    const log = (headers: Record<string, string>, bodyKey?: string) =>
      gw.inject({ method: "POST", url: "/api/logs", headers, payload: hit(bodyKey === undefined ? {} : { api_key: bodyKey }) });

    it("x-api-key wins over Bearer and body api_key", async () => {
      expect((await log({ "x-api-key": client.api_key, authorization: BAD_BEARER }, BAD_KEY)).statusCode).toBe(202);
      expectError(await log({ "x-api-key": BAD_KEY, authorization: bearer }, client.api_key), 401, "UNAUTHORIZED");
    });

    it("Bearer wins over body api_key when x-api-key is absent or empty", async () => {
      expect((await log({ authorization: bearer }, BAD_KEY)).statusCode).toBe(202);
      expect((await log({ "x-api-key": "", authorization: bearer }, BAD_KEY)).statusCode).toBe(202);
      expectError(await log({ authorization: BAD_BEARER }, client.api_key), 401, "UNAUTHORIZED");
    });

    it("body api_key is used only when no x-api-key and no authorization header is sent", async () => {
      expect((await log({}, client.api_key)).statusCode).toBe(202);
      expectError(await log({ "x-api-key": "" }, client.api_key), 401, "UNAUTHORIZED");
    });
  });

  it("POST /api/logs/batch never reads a body api_key", async () => {
    const response = await gw.inject({ method: "POST", url: "/api/logs/batch", payload: { api_key: client.api_key, hits: [hit()] } });
    expectError(response, 401, "UNAUTHORIZED");
  });

  describe("POST /api/auth/token", () => {
    const exchange = (headers: Record<string, string>, bodyKey?: string) =>
      gw.inject({ method: "POST", url: "/api/auth/token", headers, payload: bodyKey === undefined ? {} : { api_key: bodyKey } });
    const subOf = (token: string): unknown => JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()).sub;

    it("x-api-key wins over body api_key", async () => {
      const response = await exchange({ "x-api-key": client.api_key }, other.api_key);
      expect(response.statusCode, response.body).toBe(200);
      expect(subOf(response.json<{ access_token: string }>().access_token)).toBe(client.client_id);
      expectError(await exchange({ "x-api-key": BAD_KEY }, client.api_key), 401, "UNAUTHORIZED");
    });

    it("body api_key is used when x-api-key is absent or empty", async () => {
      const response = await exchange({ "x-api-key": "" }, other.api_key);
      expect(response.statusCode, response.body).toBe(200);
      expect(subOf(response.json<{ access_token: string }>().access_token)).toBe(other.client_id);
    });

    it("never reads the authorization header", async () => {
      expectError(await exchange({ authorization: bearer }), 401, "UNAUTHORIZED");
    });
  });
});
