import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, uniqueEmail } from "./helper.ts";

describe("POST /api/register", () => {
  let gw: GatewayHarness;
  beforeAll(async () => {
    gw = await buildGateway({ REGISTER_LIMIT_PER_HOUR: "1000" });
  });
  afterAll(async () => gw.close());

  it("creates a client and shows its key once", async () => {
    const email = uniqueEmail();
    const response = await gw.inject({ method: "POST", url: "/api/register", payload: { name: "Acme", email } });
    expect(response.statusCode, response.body).toBe(201);
    const body = response.json();
    expect(body).toEqual({
      client_id: expect.any(String),
      name: "Acme",
      email,
      api_key: expect.any(String),
      created_at: expect.any(String),
    });
    expect(body.client_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isNaN(Date.parse(body.created_at))).toBe(false);
    // uk_ + base64url of 32 random bytes = 256 bits of entropy.
    expect(body.api_key).toMatch(/^uk_[A-Za-z0-9_-]{43}$/);
  });

  it("issues a different key every time", async () => {
    const a = await gw.register();
    const b = await gw.register();
    expect(a.api_key).not.toBe(b.api_key);
  });

  it("treats emails case-insensitively: a second registration gets 409 EMAIL_TAKEN", async () => {
    const email = uniqueEmail();
    await gw.register("First", email.toUpperCase());
    const response = await gw.inject({ method: "POST", url: "/api/register", payload: { name: "Second", email: email.toLowerCase() } });
    expectError(response, 409, "EMAIL_TAKEN");
  });

  it("stores hostile names verbatim", async () => {
    const name = `Robert'); DROP TABLE clients;-- <script>alert(1)</script> ☃ \\ "q"`;
    const client = await gw.register(name);
    expect(client.name).toBe(name);
    const stored = await gw.db.selectFrom("clients").select("name").where("client_id", "=", client.client_id).executeTakeFirstOrThrow();
    expect(stored.name).toBe(name);
  });

  it.each([
    ["a missing name", { email: "x@example.com" }],
    ["an empty name", { name: "", email: "x@example.com" }],
    ["a name over 100 characters", { name: "n".repeat(101), email: "x@example.com" }],
    ["a NUL in the name", { name: "a\u0000b", email: "x@example.com" }],
    ["an invalid email", { name: "n", email: "not-an-email" }],
    ["an email over 254 characters", { name: "n", email: `${"a".repeat(250)}@example.com` }],
    ["a body that is an array", []],
  ])("answers 400 VALIDATION_ERROR to %s", async (_what, payload) => {
    const response = await gw.inject({ method: "POST", url: "/api/register", payload });
    expectError(response, 400, "VALIDATION_ERROR");
  });

  it("keeps neither the email nor the key in plaintext in Postgres", async () => {
    const email = `secret-${randomUUID()}@example.com`;
    const client = await gw.register("Private", email);
    const row = await gw.db.selectFrom("clients").selectAll().where("client_id", "=", client.client_id).executeTakeFirstOrThrow();
    const dump = JSON.stringify(row, (_key, value) => (value?.type === "Buffer" ? Buffer.from(value.data).toString("latin1") : value));
    expect(dump).not.toContain(email);
    expect(dump).not.toContain(client.api_key);
    expect(dump.toLowerCase()).not.toContain(email.toLowerCase());
  });
});

describe("registration limit per IP", () => {
  let gw: GatewayHarness;
  beforeAll(async () => {
    gw = await buildGateway({ REGISTER_LIMIT_PER_HOUR: "2" });
  });
  afterAll(async () => gw.close());

  it("answers 429 RATE_LIMITED with retry-after once the IP used its quota", async () => {
    const from = { remoteAddress: "198.51.100.20" };
    for (let i = 0; i < 2; i++) {
      const ok = await gw.inject({ method: "POST", url: "/api/register", payload: { name: "n", email: uniqueEmail() }, ...from });
      expect(ok.statusCode, ok.body).toBe(201);
    }
    const limited = await gw.inject({ method: "POST", url: "/api/register", payload: { name: "n", email: uniqueEmail() }, ...from });
    expectError(limited, 429, "RATE_LIMITED");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    const otherIp = await gw.inject({
      method: "POST",
      url: "/api/register",
      payload: { name: "n", email: uniqueEmail() },
      remoteAddress: "198.51.100.21",
    });
    expect(otherIp.statusCode, otherIp.body).toBe(201);
  });
});
