import { randomUUID } from "node:crypto";
import { createLogger } from "@usage/core";
import { buildApp } from "@usage/gateway/app";
import { ADMIN_KEY, createTestEnv, eventually, type PrivateRedis, silentLogger, startPrivateRedis, type TestEnv } from "@usage/testkit";
import { startWorker, type WorkerRuntime } from "@usage/worker/runtime";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** Reads keep answering when Redis goes away: from memory, else from the Postgres rollups. */
describe("usage reads with Redis stopped", () => {
  let redis: PrivateRedis;
  let env: TestEnv;
  let app: FastifyInstance;
  let worker: WorkerRuntime;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    env = await createTestEnv({ REDIS_URL: redis.url });
    app = await buildApp(env.config, { logger: createLogger("redis-down", "silent") });
    await app.ready();
    worker = await startWorker(env.workerConfig, silentLogger(), 1_000);
  });
  afterAll(async () => {
    // Bring Redis back so the processes can close their queues cleanly.
    await redis?.start();
    await worker?.close();
    await app?.close();
    await env?.cleanup().catch(() => {});
    await redis?.stop();
  });

  const inject = async (method: "GET" | "POST", url: string, options: { payload?: object; headers?: Record<string, string> } = {}) => {
    const response = await app.inject({ method, url, ...options });
    return { status: response.statusCode, cache: response.headers["x-cache"], body: response.json() };
  };
  const client = async (name: string) => {
    const c = (await inject("POST", "/api/register", { payload: { name, email: `${randomUUID()}@example.com` } })).body;
    const token = (await inject("POST", "/api/auth/token", { headers: { "x-api-key": c.api_key } })).body.access_token as string;
    return { id: c.client_id as string, key: c.api_key as string, token };
  };
  const hits = (n: number) => ({
    hits: Array.from({ length: n }, () => ({ ip: "192.0.2.4", endpoint: "/d", timestamp: new Date().toISOString() })),
  });

  it("serves the last answer from memory, then the rollups, and says the store is degraded", async () => {
    const alice = await client("Alice");
    const bob = await client("Bob");
    const carol = await client("Carol");
    const admin = (await inject("POST", "/api/auth/token", { headers: { "x-api-key": ADMIN_KEY } })).body.access_token as string;
    expect((await inject("POST", "/api/logs/batch", { payload: hits(4), headers: { "x-api-key": alice.key } })).status).toBe(202);
    expect((await inject("POST", "/api/logs/batch", { payload: hits(6), headers: { "x-api-key": bob.key } })).status).toBe(202);
    await eventually(
      async () => {
        const { rows } = await sql<{ n: number }>`SELECT coalesce(sum(total), 0)::int AS n FROM usage_daily`.execute(env.db);
        return rows[0]?.n === 10 ? true : undefined;
      },
      10_000,
      "10 hits committed",
    );
    const aliceBefore = await inject("GET", "/api/usage/daily", { headers: { authorization: `Bearer ${alice.token}` } });
    expect(aliceBefore.body.data[0].days[6].total_requests).toBe(4);

    await redis.kill();

    const aliceAfter = await inject("GET", "/api/usage/daily", { headers: { authorization: `Bearer ${alice.token}` } });
    expect(aliceAfter.status).toBe(200);
    expect(aliceAfter.cache).toBe("HIT");
    expect(aliceAfter.body).toEqual(aliceBefore.body);

    // Bob never read before: no answer in memory, so the rollups answer.
    const bobAfter = await inject("GET", "/api/usage/daily", { headers: { authorization: `Bearer ${bob.token}` } });
    expect(bobAfter.status).toBe(200);
    expect(bobAfter.body.data[0].days[6].total_requests).toBe(6);

    const top = await inject("GET", "/api/usage/top", { headers: { authorization: `Bearer ${admin}` } });
    expect(top.status).toBe(200);
    expect(top.body.data.map((r: { client_id: string; total_requests: number }) => [r.client_id, r.total_requests])).toEqual([
      [bob.id, 6],
      [alice.id, 4],
    ]);
    const everyone = await inject("GET", "/api/usage/daily", { headers: { authorization: `Bearer ${admin}` } });
    expect(everyone.status).toBe(200);
    expect(everyone.body.data.map((r: { client_id: string }) => r.client_id)).toEqual([bob.id, alice.id]);

    // Chosen clients: the rollups, in the order given, a client without hits zero-filled, an unknown id left out.
    const chosen = await inject("GET", `/api/usage/daily?client_ids=${carol.id},${randomUUID()},${alice.id}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(chosen.status).toBe(200);
    expect(chosen.body.next_cursor).toBeNull();
    expect(
      chosen.body.data.map((r: { client_id: string; name: string; days: Array<{ total_requests: number }> }) => [
        r.client_id,
        r.name,
        r.days.map((d) => d.total_requests),
      ]),
    ).toEqual([
      [carol.id, "Carol", [0, 0, 0, 0, 0, 0, 0]],
      [alice.id, "Alice", [0, 0, 0, 0, 0, 0, 4]],
    ]);

    const ready = await inject("GET", "/health/ready");
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: "degraded", checks: { postgres: "up", redis: "down" } });
  });
});
