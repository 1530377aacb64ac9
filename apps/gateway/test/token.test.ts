import { ADMIN_KEY } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, type TestClient } from "./helper.ts";
import { forgeToken } from "./jwt-forge.ts";

const claimsOf = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString());

describe("POST /api/auth/token", () => {
  let gw: GatewayHarness;
  let client: TestClient;
  beforeAll(async () => {
    gw = await buildGateway();
    client = await gw.register();
  });
  afterAll(async () => gw.close());

  it("exchanges a key from the x-api-key header for a client token with pinned claims", async () => {
    const response = await gw.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": client.api_key } });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body).toEqual({ access_token: expect.any(String), token_type: "Bearer", expires_in: gw.config.jwtTtlSeconds });
    const header = JSON.parse(Buffer.from(body.access_token.split(".")[0], "base64url").toString());
    expect(header.alg).toBe("HS256");
    const claims = claimsOf(body.access_token);
    expect(claims).toMatchObject({ sub: client.client_id, role: "client", iss: gw.config.jwtIssuer, aud: gw.config.jwtAudience });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(gw.config.jwtTtlSeconds);
  });

  it("accepts the key in the body too", async () => {
    const response = await gw.inject({ method: "POST", url: "/api/auth/token", payload: { api_key: client.api_key } });
    expect(response.statusCode, response.body).toBe(200);
    expect(claimsOf(response.json().access_token).sub).toBe(client.client_id);
  });

  it("gives the admin key an admin token", async () => {
    const token = await gw.tokenFor(ADMIN_KEY);
    expect(claimsOf(token)).toMatchObject({ sub: "admin", role: "admin" });
  });

  it("refuses the admin key from outside ADMIN_IP_ALLOWLIST with 403", async () => {
    const response = await gw.inject({
      method: "POST",
      url: "/api/auth/token",
      headers: { "x-api-key": ADMIN_KEY },
      remoteAddress: "198.51.100.9",
    });
    expectError(response, 403, "FORBIDDEN");
  });

  it.each([
    ["no key", {}],
    ["an unknown key", { headers: { "x-api-key": "uk_unknown" } }],
    ["an unknown key in the body", { payload: { api_key: "uk_unknown" } }],
  ])("answers 401 UNAUTHORIZED to %s", async (_what, extra) => {
    const response = await gw.inject({ method: "POST", url: "/api/auth/token", ...extra });
    expectError(response, 401, "UNAUTHORIZED");
  });

  it.each([
    ["a JSON array", "[]"],
    ["a JSON string", '"key"'],
    ["JSON null", "null"],
    ["malformed JSON", "{"],
  ])("answers 400 VALIDATION_ERROR to a body that is %s", async (_what, payload) => {
    const response = await gw.inject({
      method: "POST",
      url: "/api/auth/token",
      headers: { "content-type": "application/json", "x-api-key": client.api_key },
      payload,
    });
    expectError(response, 400, "VALIDATION_ERROR");
  });

  it("refuses a revoked key", async () => {
    const revoked = await gw.register();
    await gw.db.updateTable("clients").set({ revoked_at: new Date() }).where("client_id", "=", revoked.client_id).execute();
    // The key was never looked up before, so no cached copy hides the revocation.
    const response = await gw.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": revoked.api_key } });
    expectError(response, 401, "UNAUTHORIZED");
  });
});

describe("bearer tokens the server must refuse", () => {
  let gw: GatewayHarness;
  let client: TestClient;
  const now = () => Math.floor(Date.now() / 1000);
  beforeAll(async () => {
    gw = await buildGateway();
    client = await gw.register();
  });
  afterAll(async () => gw.close());

  const read = (token: string) => gw.inject({ method: "GET", url: "/api/usage/daily", headers: { authorization: `Bearer ${token}` } });
  const good = () => ({
    sub: client.client_id,
    role: "client",
    iat: now(),
    exp: now() + 600,
    iss: gw.config.jwtIssuer,
    aud: gw.config.jwtAudience,
  });

  it("accepts a well-formed token (control)", async () => {
    const response = await read(forgeToken({ alg: "HS256", typ: "JWT" }, good(), gw.config.jwtSecret));
    expect(response.statusCode, response.body).toBe(200);
  });

  it.each([
    ["alg none", () => forgeToken({ alg: "none", typ: "JWT" }, good())],
    ["another algorithm (HS512)", () => forgeToken({ alg: "HS512", typ: "JWT" }, good(), gw.config.jwtSecret)],
    ["a wrong secret", () => forgeToken({ alg: "HS256", typ: "JWT" }, good(), "another-secret-another-secret-another")],
    ["another issuer", () => forgeToken({ alg: "HS256", typ: "JWT" }, { ...good(), iss: "evil" }, gw.config.jwtSecret)],
    ["another audience", () => forgeToken({ alg: "HS256", typ: "JWT" }, { ...good(), aud: "evil" }, gw.config.jwtSecret)],
    [
      "an expired token",
      () => forgeToken({ alg: "HS256", typ: "JWT" }, { ...good(), iat: now() - 7200, exp: now() - 3600 }, gw.config.jwtSecret),
    ],
    ["a malformed token", () => "not.a.jwt"],
    ["an unknown role", () => forgeToken({ alg: "HS256", typ: "JWT" }, { ...good(), role: "root" }, gw.config.jwtSecret)],
  ])("answers 401 to %s", async (_what, make) => {
    expectError(await read(make()), 401, "UNAUTHORIZED");
  });

  it("answers 401 to an authorization header that is not Bearer", async () => {
    const response = await gw.inject({ method: "GET", url: "/api/usage/daily", headers: { authorization: "Basic Zm9vOmJhcg==" } });
    expectError(response, 401, "UNAUTHORIZED");
  });
});

describe("JWT secret rotation", () => {
  const previous = "the-previous-signing-secret-0123456789abcdef";
  let gw: GatewayHarness;
  let client: TestClient;
  beforeAll(async () => {
    gw = await buildGateway({ JWT_PREVIOUS_SECRET: previous });
    client = await gw.register();
  });
  afterAll(async () => gw.close());

  it("accepts tokens signed with the previous secret until they expire, and signs new ones with the current", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: client.client_id,
      role: "client",
      iat: now,
      exp: now + 600,
      iss: gw.config.jwtIssuer,
      aud: gw.config.jwtAudience,
    };
    const old = forgeToken({ alg: "HS256", typ: "JWT" }, claims, previous);
    const response = await gw.inject({ method: "GET", url: "/api/usage/daily", headers: { authorization: `Bearer ${old}` } });
    expect(response.statusCode, response.body).toBe(200);
    const fresh = await gw.tokenFor(client.api_key);
    const [header, body] = fresh.split(".") as [string, string];
    expect(
      forgeToken(
        JSON.parse(Buffer.from(header, "base64url").toString()),
        JSON.parse(Buffer.from(body, "base64url").toString()),
        gw.config.jwtSecret,
      ),
    ).toBe(fresh);
    const unknown = forgeToken({ alg: "HS256", typ: "JWT" }, claims, "a-third-secret-that-was-never-configured-000");
    expectError(
      await gw.inject({ method: "GET", url: "/api/usage/daily", headers: { authorization: `Bearer ${unknown}` } }),
      401,
      "UNAUTHORIZED",
    );
  });
});
