import { randomUUID } from "node:crypto";
import { type AppProcess, call, createTestEnv, eventually, spawnGateway, spawnWorker, stopApps, type TestEnv } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildExample } from "../../examples/metered-api/src/app.ts";

/** examples/metered-api: a user's own API, metered and rate-limited by the SDK against a real service. */
describe("the example API in enforce mode", () => {
  const QUOTA = 3;
  let env: TestEnv;
  let gateway: AppProcess;
  let worker: Omit<AppProcess, "base">;

  beforeAll(async () => {
    env = await createTestEnv({ RATE_LIMIT_PER_HOUR: String(QUOTA), LOG_LEVEL: "warn" });
    gateway = await spawnGateway(env.env);
    worker = spawnWorker(env.env);
  });
  afterAll(async () => {
    await stopApps(gateway, worker);
    await env?.cleanup();
  });

  it("serves a caller within its quota, answers 429 with retry-after beyond it, and stores each counted request by its route", async () => {
    const registered = await call(gateway.base, "POST", "/api/register", {
      name: "Example caller",
      email: `example-${randomUUID()}@example.com`,
    });
    expect(registered.status).toBe(201);
    const key = registered.body.api_key as string;
    const clientId = registered.body.client_id as string;

    const { app } = await buildExample({ usageUrl: gateway.base });
    try {
      const answers = [];
      for (let i = 0; i < QUOTA + 1; i++)
        answers.push(await app.inject({ method: "GET", url: `/v1/orders/${i}`, headers: { "x-api-key": key } }));
      expect(answers.slice(0, QUOTA).map((a) => a.statusCode)).toEqual(Array(QUOTA).fill(200));
      expect(answers[QUOTA]?.statusCode).toBe(429);
      expect(Number(answers[QUOTA]?.headers["retry-after"])).toBeGreaterThan(0);
      expect(answers[0]?.json()).toEqual({ id: "0", status: "shipped" });
      // No key: served, not counted.
      expect((await app.inject({ method: "GET", url: "/v1/orders/9" })).statusCode).toBe(200);
    } finally {
      await app.close();
    }

    const stored = await eventually(
      async () => {
        const { rows } = await sql<{ endpoint: string; method: string }>`
        SELECT endpoint, method FROM hits WHERE client_id = ${clientId}`.execute(env.db);
        return rows.length === QUOTA ? rows : undefined;
      },
      15_000,
      "the counted requests stored",
    );
    expect(stored).toEqual(Array(QUOTA).fill({ endpoint: "/v1/orders/:id", method: "GET" }));
  });
});
