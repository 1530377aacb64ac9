import { Writable } from "node:stream";
import { createLogger } from "@usage/core";
import { createTestEnv, type TestEnv } from "@usage/testkit";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";
import { buildGateway, expectError, type GatewayHarness } from "./helper.ts";

const setCookie = (response: LightMyRequestResponse): string | undefined => {
  const header = response.headers["set-cookie"];
  return Array.isArray(header) ? header[0] : header;
};

/** The `name=value` part of a Set-Cookie header, as a browser would send it back. */
const cookiePair = (header: string): string => header.split(";", 1)[0] as string;

describe("Bull Board at /admin/queues", () => {
  let gw: GatewayHarness;
  let admin: string;
  let clientToken: string;
  beforeAll(async () => {
    gw = await buildGateway();
    admin = await gw.adminToken();
    clientToken = await gw.tokenFor((await gw.register()).api_key);
  });
  afterAll(async () => gw?.close());

  it("trades ?token= on the entry URL for an HttpOnly, SameSite=Strict cookie on the board's path, expiring with the token", async () => {
    const entry = await gw.inject({ method: "GET", url: `/admin/queues?token=${admin}` });
    // Redirected to the bare URL: the token leaves the address bar and the history.
    expect(entry.statusCode, entry.body).toBe(303);
    expect(entry.headers.location).toBe("/admin/queues");
    const cookie = setCookie(entry);
    expect(cookie).toBeDefined();
    const attributes = (cookie as string).split(";").map((part) => part.trim());
    expect(attributes[0]).toBe(`usage_board=${admin}`);
    expect(attributes).toEqual(expect.arrayContaining(["Path=/admin/queues", "HttpOnly", "SameSite=Strict"]));
    const { exp } = JSON.parse(Buffer.from(admin.split(".")[1] as string, "base64url").toString()) as { exp: number };
    const maxAge = Number(attributes.find((a) => a.startsWith("Max-Age="))?.slice("Max-Age=".length));
    expect(Math.abs(maxAge - (exp - Date.now() / 1000))).toBeLessThan(5);
    expect(attributes.find((a) => a.startsWith("Expires="))).toBe(`Expires=${new Date(exp * 1000).toUTCString()}`);
  });

  it("answers the page, its API and its static files to the cookie alone", async () => {
    const cookie = cookiePair(setCookie(await gw.inject({ method: "GET", url: `/admin/queues?token=${admin}` })) as string);
    const page = await gw.inject({ method: "GET", url: "/admin/queues", headers: { cookie } });
    expect(page.statusCode, page.body).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.body).toContain('<base href="/admin/queues/"');
    const api = await gw.inject({ method: "GET", url: "/admin/queues/api/queues", headers: { cookie } });
    expect(api.statusCode, api.body).toBe(200);
    const names = api.json<{ queues: Array<{ name: string }> }>().queues.map((queue) => queue.name);
    expect(names.sort()).toEqual(["exports", ...gw.app.hitQueues.shards.map((shard) => shard.name), "maintenance"].sort());
    const script = /src="(static\/js\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(script).toBeDefined();
    const asset = await gw.inject({ method: "GET", url: `/admin/queues/${script}`, headers: { cookie } });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["content-type"]).toContain("javascript");
    // Other cookies beside it do not confuse the guard.
    const mixed = await gw.inject({ method: "GET", url: "/admin/queues/api/queues", headers: { cookie: `theme=dark; ${cookie}; x=1` } });
    expect(mixed.statusCode).toBe(200);
  });

  it("refuses a client's token or cookie (403) and an admin's cookie from outside the allowlist (403)", async () => {
    const asClient = await gw.inject({ method: "GET", url: `/admin/queues?token=${clientToken}` });
    expectError(asClient, 403, "FORBIDDEN");
    expect(asClient.headers["set-cookie"]).toBeUndefined();
    const clientCookie = await gw.inject({
      method: "GET",
      url: "/admin/queues/api/queues",
      headers: { cookie: `usage_board=${clientToken}` },
    });
    expectError(clientCookie, 403, "FORBIDDEN");
    const outside = await gw.inject({
      method: "GET",
      url: "/admin/queues/api/queues",
      headers: { cookie: `usage_board=${admin}` },
      remoteAddress: "192.0.2.50",
    });
    expectError(outside, 403, "FORBIDDEN");
    const outsideEntry = await gw.inject({ method: "GET", url: `/admin/queues?token=${admin}`, remoteAddress: "192.0.2.50" });
    expectError(outsideEntry, 403, "FORBIDDEN");
    expect(outsideEntry.headers["set-cookie"]).toBeUndefined();
  });

  it("takes ?token= on the entry URL only, refuses a bad token or cookie (401), and guards unknown paths under it", async () => {
    expectError(await gw.inject({ method: "GET", url: `/admin/queues/api/queues?token=${admin}` }), 401, "UNAUTHORIZED");
    expectError(await gw.inject({ method: "GET", url: "/admin/queues?token=x.y.z" }), 401, "UNAUTHORIZED");
    expectError(await gw.inject({ method: "GET", url: "/admin/queues", headers: { cookie: "usage_board=x.y.z" } }), 401, "UNAUTHORIZED");
    // A malformed header is not a fallback to the cookie.
    const malformed = await gw.inject({
      method: "GET",
      url: "/admin/queues",
      headers: { authorization: "Basic abc", cookie: `usage_board=${admin}` },
    });
    expectError(malformed, 401, "UNAUTHORIZED");
    expectError(await gw.inject({ method: "GET", url: "/admin/queues/no-such-page" }), 401, "UNAUTHORIZED");
    const unknown = await gw.inject({ method: "GET", url: "/admin/queues/no-such-page", headers: { authorization: `Bearer ${admin}` } });
    expectError(unknown, 404, "NOT_FOUND");
  });

  it("gives the board a CSP of its own and leaves the rest of the app without one", async () => {
    const page = await gw.inject({ method: "GET", url: "/admin/queues", headers: { authorization: `Bearer ${admin}` } });
    const csp = page.headers["content-security-policy"] as string;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-eval");
    // helmet's other headers stay on the board.
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    const health = await gw.inject({ method: "GET", url: "/health" });
    expect(health.headers["content-security-policy"]).toBeUndefined();
    expect(health.headers["x-content-type-options"]).toBe("nosniff");
  });
});

describe("Bull Board and the logs", () => {
  let env: TestEnv;
  let app: FastifyInstance;
  const lines: string[] = [];
  beforeAll(async () => {
    env = await createTestEnv();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    // The most verbose level there is, from the service's own logger factory (its redaction and serializers).
    const logger = createLogger("queue-board-test", "trace", sink);
    app = await buildApp(env.config, { logger });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await env?.cleanup();
  });

  it("never writes the token to a log line, whether it is accepted or refused", async () => {
    const token = (
      await app.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": env.env.ADMIN_API_KEY as string } })
    ).json<{
      access_token: string;
    }>().access_token;
    const entry = await app.inject({ method: "GET", url: `/admin/queues?token=${token}` });
    expect(entry.statusCode).toBe(303);
    const cookie = cookiePair(setCookie(entry) as string);
    expect((await app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: { cookie } })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: `/admin/queues?token=${token}x` })).statusCode).toBe(401);
    expect((await app.inject({ method: "GET", url: "/admin/queues", remoteAddress: "192.0.2.50", headers: { cookie } })).statusCode).toBe(
      403,
    );
    const signature = token.split(".")[2] as string;
    expect(lines.filter((line) => line.includes(signature))).toEqual([]);
    // At trace each request has its lines, the URL's token blanked (so this test sees them and can fail).
    expect(lines.filter((line) => line.includes('"url":"/admin/queues?token=[redacted]"')).length).toBeGreaterThanOrEqual(2);
  });
});
