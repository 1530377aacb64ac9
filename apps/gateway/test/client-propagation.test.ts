import { createLogger } from "@usage/core";
import { updateClient } from "@usage/db";
import { ADMIN_KEY, createTestEnv, type TestEnv } from "@usage/testkit";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";
import { hit } from "./helper.ts";

/**
 * Two gateways in one process, sharing Postgres and Redis: a change made through one reaches
 * the other's caches by pub/sub, or by the periodic re-check when no message comes.
 * (test/e2e/client-changes.test.ts does the same with two processes.)
 */
describe("client changes reach every gateway", () => {
  let env: TestEnv;
  let a: FastifyInstance;
  let b: FastifyInstance;
  let admin: string;
  beforeAll(async () => {
    env = await createTestEnv();
    const logger = createLogger("propagation-test", "silent");
    a = await buildApp(env.config, { logger });
    b = await buildApp(env.config, { logger });
    await Promise.all([a.ready(), b.ready()]);
    admin = (await b.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": ADMIN_KEY } })).json().access_token;
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await env?.cleanup();
  });

  const register = async () => {
    const response = await a.inject({
      method: "POST",
      url: "/api/register",
      payload: { name: "P", email: `p-${Date.now()}-${Math.random()}@example.com` },
    });
    return response.json<{ client_id: string; api_key: string }>();
  };
  const logOn = (app: FastifyInstance, apiKey: string) =>
    app.inject({ method: "POST", url: "/api/logs", headers: { "x-api-key": apiKey }, payload: hit() });
  /** Hits on `app` until one answers `status`; how long that took from `since`. */
  const until = async (app: FastifyInstance, apiKey: string, status: number, since: number, limitMs: number): Promise<number> => {
    while (Date.now() - since < limitMs) {
      if ((await logOn(app, apiKey)).statusCode === status) return Date.now() - since;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no ${status} within ${limitMs} ms`);
  };

  it("a quota lowered through B applies on A within 1 s (pub/sub)", async () => {
    const client = await register();
    expect((await logOn(a, client.api_key)).statusCode).toBe(202); // A caches the client with the default quota
    const patched = await b.inject({
      method: "PATCH",
      url: `/api/clients/${client.client_id}`,
      headers: { authorization: `Bearer ${admin}` },
      payload: { rate_limit_per_hour: 0 },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(await until(a, client.api_key, 429, Date.now(), 1000)).toBeLessThan(1000);
  });

  it("a change no message announced is found by the re-check", async () => {
    const client = await register();
    expect((await logOn(a, client.api_key)).statusCode).toBe(202);
    // Straight to Postgres, as if the message had been lost.
    await updateClient(env.db, client.client_id, { rate_limit_per_hour: 0 });
    expect(await a.clientChanges.recheck()).toBeGreaterThanOrEqual(1);
    expect((await logOn(a, client.api_key)).statusCode).toBe(429);
  });

  it("the periodic re-check converges by itself within one period (2 s) and a query", async () => {
    const client = await register();
    expect((await logOn(b, client.api_key)).statusCode).toBe(202);
    const changedAt = Date.now();
    await updateClient(env.db, client.client_id, { rate_limit_per_hour: 0 });
    const tookMs = await until(b, client.api_key, 429, changedAt, 3000);
    expect(tookMs).toBeLessThanOrEqual(2500);
  });
});
