import { randomUUID } from "node:crypto";
import { readdir } from "node:fs/promises";
import { createLogger } from "@usage/core";
import { buildApp } from "@usage/gateway/app";
import {
  createTestEnv,
  eventually,
  type PrivateRedis,
  silentLogger,
  startPrivateRedis,
  startTcpProxy,
  type TcpProxy,
  type TestEnv,
} from "@usage/testkit";
import { startWorker, type WorkerRuntime } from "@usage/worker/runtime";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** Redis cut between the gateway and Redis: hits are spooled, then replayed exactly once. */
describe("spool while Redis is unreachable", () => {
  let redis: PrivateRedis;
  let proxy: TcpProxy;
  let env: TestEnv;
  let app: FastifyInstance;
  let worker: WorkerRuntime;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    proxy = await startTcpProxy(redis.port);
    env = await createTestEnv({ REDIS_URL: proxy.url("redis"), RATE_LIMIT_PER_HOUR: "50" });
    app = await buildApp(env.config, { logger: createLogger("spool", "silent") });
    await app.ready();
    // The worker talks to Redis directly: only the gateway loses it.
    worker = await startWorker({ ...env.workerConfig, redisUrl: redis.url }, silentLogger(), 1_000);
  });
  afterAll(async () => {
    proxy?.restore();
    await worker?.close();
    await app?.close();
    await env?.cleanup().catch(() => {});
    await proxy?.close();
    await redis?.stop();
  });

  const post = (key: string, hits: object[]) =>
    app.inject({ method: "POST", url: "/api/logs/batch", headers: { "x-api-key": key }, payload: { hits } });
  const hit = (eventId = randomUUID()) => ({ ip: "192.0.2.5", endpoint: "/spool", timestamp: new Date().toISOString(), event_id: eventId });
  const stored = async (clientId: string) => {
    const { rows } = await sql<{ n: number; d: number }>`
      SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM hits WHERE client_id = ${clientId}`.execute(env.db);
    return rows[0] as { n: number; d: number };
  };

  it("keeps answering 202, spools to disk, and stores every hit once when Redis returns", async () => {
    const client = (
      await app.inject({ method: "POST", url: "/api/register", payload: { name: "S", email: `${randomUUID()}@example.com` } })
    ).json();
    const before = hit();
    expect((await post(client.api_key, [before])).statusCode).toBe(202);

    proxy.cut();
    const during = Array.from({ length: 30 }, () => hit());
    for (let i = 0; i < 30; i += 10) {
      const response = await post(client.api_key, during.slice(i, i + 10));
      expect(response.statusCode, response.body).toBe(202);
    }
    // A duplicate sent during the outage is recognised in process.
    const dup = await post(client.api_key, [during[0] as object]);
    expect(dup.json()).toMatchObject({ accepted: 0, duplicates: 1 });
    // The quota still holds, in process: this gateway alone has taken 30 of 50 this hour.
    const over = Array.from({ length: 21 }, () => hit());
    expect((await post(client.api_key, over)).statusCode).toBe(429);
    expect((await readdir(env.config.spoolDir)).some((name) => name.startsWith("active-"))).toBe(true);
    expect((await app.inject({ method: "GET", url: "/health/ready" })).statusCode).toBe(503);

    proxy.restore();
    await eventually(async () => ((await stored(client.client_id)).n === 31 ? true : undefined), 20_000, "31 hits stored");
    await eventually(async () => ((await readdir(env.config.spoolDir)).length === 0 ? true : undefined), 10_000, "spool emptied");
    expect(await stored(client.client_id)).toEqual({ n: 31, d: 31 });
    const daily = await env.db
      .selectFrom("usage_daily")
      .select("total")
      .where("client_id", "=", client.client_id)
      .executeTakeFirstOrThrow();
    expect(daily.total).toBe(31);

    // Replay counted the spooled hits in Redis too, so the live figures agree.
    const token = (await app.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": client.api_key } })).json()
      .access_token;
    const usage = (await app.inject({ method: "GET", url: "/api/usage/daily", headers: { authorization: `Bearer ${token}` } })).json();
    expect(usage.data[0].days[6].total_requests).toBe(31);
  });

  it("answers 503 UNAVAILABLE when the spool is full, and counts nothing of it", async () => {
    const small = await buildApp(
      { ...env.config, spoolDir: `${env.config.spoolDir}-small`, spoolMaxBytes: 1024 },
      { logger: createLogger("small", "silent") },
    );
    try {
      await small.ready();
      const client = (
        await small.inject({ method: "POST", url: "/api/register", payload: { name: "F", email: `${randomUUID()}@example.com` } })
      ).json();
      proxy.cut();
      const response = await small.inject({
        method: "POST",
        url: "/api/logs/batch",
        headers: { "x-api-key": client.api_key },
        payload: { hits: Array.from({ length: 20 }, () => hit()) },
      });
      expect(response.statusCode).toBe(503);
      expect(response.json().code).toBe("UNAVAILABLE");
      expect(Number(response.headers["retry-after"])).toBeGreaterThan(0);
      // Taken back: the quota is whole again.
      const one = await small.inject({ method: "POST", url: "/api/logs", headers: { "x-api-key": client.api_key }, payload: hit() });
      expect(one.statusCode).toBe(202);
      expect(one.headers["x-ratelimit-remaining"]).toBe("49");
    } finally {
      proxy.restore();
      await small.close();
    }
  });
});
