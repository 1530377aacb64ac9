import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createLogger } from "@usage/core";
import { withDefaultUser } from "@usage/db";
import { buildApp } from "@usage/gateway/app";
import { scanKeys } from "@usage/store";
import { createTestEnv, eventually, silentLogger, type TestEnv } from "@usage/testkit";
import { startWorker, type WorkerRuntime } from "@usage/worker/runtime";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** What an operator's backups would hold: a pg_dump of the database and every Redis value. */
describe("no email and no API key at rest", () => {
  let env: TestEnv;
  let app: FastifyInstance;
  let worker: WorkerRuntime;
  beforeAll(async () => {
    env = await createTestEnv();
    app = await buildApp(env.config, { logger: createLogger("secrets", "silent") });
    await app.ready();
    worker = await startWorker(env.workerConfig, silentLogger());
  });
  afterAll(async () => {
    await worker.close();
    await app.close();
    await env.cleanup();
  });

  it("keeps both out of pg_dump and out of every Redis key", async () => {
    const email = `Secret.Person-${randomUUID()}@Example.com`;
    const registered = (await app.inject({ method: "POST", url: "/api/register", payload: { name: "Private", email } })).json();
    const key = registered.api_key as string;
    const token = (await app.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": key } })).json()
      .access_token as string;
    const hit = { ip: "192.0.2.8", endpoint: "/s", timestamp: new Date().toISOString(), event_id: randomUUID() };
    expect((await app.inject({ method: "POST", url: "/api/logs", payload: { api_key: key, ...hit } })).statusCode).toBe(202);
    await app.inject({ method: "GET", url: "/api/usage/daily", headers: { authorization: `Bearer ${token}` } });
    await eventually(async () => {
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM hits`.execute(env.db);
      return rows[0]?.n === 1 ? true : undefined;
    });

    const dump = await new Promise<string>((resolve, reject) =>
      execFile("pg_dump", ["--no-owner", withDefaultUser(env.config.databaseUrl)], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      ),
    );
    expect(dump).toContain("Private");
    for (const secret of [key, email, email.toLowerCase(), key.slice(3)]) expect(dump).not.toContain(secret);

    // Every primary's keys: on a cluster KEYS answers for one node only.
    const keys: string[] = [];
    for await (const found of scanKeys(env.redis, `${env.config.redisPrefix}:*`)) keys.push(...found);
    expect(keys.length).toBeGreaterThan(5);
    for (const name of keys) {
      const value = (await env.redis.dumpBuffer(name))?.toString("latin1") ?? "";
      for (const secret of [key, email, email.toLowerCase()]) expect(value.includes(secret), name).toBe(false);
      expect(name.includes(key) || name.toLowerCase().includes(email.toLowerCase())).toBe(false);
    }
  });
});
