import { randomUUID } from "node:crypto";
import {
  ADMIN_KEY,
  type AppProcess,
  call as callApi,
  createTestEnv,
  eventually,
  spawnGateway,
  spawnWorker,
  stopApps,
  type TestEnv,
} from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The gateway and the worker as separate processes, driven over HTTP like a real client. */
describe("end to end: gateway and worker processes", () => {
  let env: TestEnv;
  let gateway: AppProcess;
  let worker: Omit<AppProcess, "base">;

  beforeAll(async () => {
    env = await createTestEnv({ RATE_LIMIT_PER_HOUR: "100000", LOG_LEVEL: "warn" });
    gateway = await spawnGateway(env.env);
    worker = spawnWorker(env.env);
    await eventually(async () => ((await fetch(`${gateway.base}/health/ready`)).ok ? true : undefined), 20_000, "gateway ready");
  });

  afterAll(async () => {
    await stopApps(gateway, worker);
    await env?.cleanup();
  });

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    callApi(gateway.base, method, path, body, headers);

  it("registers, ingests single, batched, late and duplicate hits, and reads exact figures", async () => {
    const registered = await call("POST", "/api/register", { name: "E2E", email: `e2e-${randomUUID()}@example.com` });
    expect(registered.status).toBe(201);
    const apiKey = registered.body.api_key as string;
    const clientId = registered.body.client_id as string;
    const token = (await call("POST", "/api/auth/token", undefined, { "x-api-key": apiKey })).body.access_token as string;
    const now = new Date().toISOString();
    const lateDay = new Date(Date.now() - 2 * 86_400_000);
    const eventId = randomUUID();

    expect(
      (await call("POST", "/api/logs", { ip: "192.0.2.1", endpoint: "/a", timestamp: now, event_id: eventId }, { "x-api-key": apiKey }))
        .status,
    ).toBe(202);
    const dup = await call("POST", "/api/logs", { api_key: apiKey, ip: "192.0.2.1", endpoint: "/a", timestamp: now, event_id: eventId });
    expect(dup.body).toEqual({ id: eventId, duplicate: true });
    const batch = await call(
      "POST",
      "/api/logs/batch",
      {
        hits: [
          ...Array.from({ length: 9 }, () => ({ ip: "2001:db8::2", endpoint: "/b", timestamp: now })),
          { ip: "192.0.2.3", endpoint: "/late", timestamp: lateDay.toISOString() },
        ],
      },
      { authorization: `Bearer ${token}` },
    );
    expect(batch.status).toBe(202);
    expect(batch.body).toMatchObject({ accepted: 10, duplicates: 0 });
    expect((await call("POST", "/api/logs", { ip: "bad", endpoint: "/a", timestamp: now }, { "x-api-key": apiKey })).status).toBe(400);

    await new Promise((resolve) => setTimeout(resolve, 1000));
    const daily = await call("GET", "/api/usage/daily", undefined, { authorization: `Bearer ${token}` });
    const days = (daily.body.data as Array<{ days: Array<{ date: string; total_requests: number }> }>)[0]?.days ?? [];
    expect(days.at(-1)?.total_requests).toBe(10);
    expect(days.find((d) => d.date === lateDay.toISOString().slice(0, 10))).toMatchObject({ total_requests: 1 });

    const admin = (await call("POST", "/api/auth/token", undefined, { "x-api-key": ADMIN_KEY })).body.access_token as string;
    const top = await call("GET", "/api/usage/top", undefined, { authorization: `Bearer ${admin}` });
    expect(top.body.data).toEqual([{ client_id: clientId, name: "E2E", total_requests: 10 }]);

    // The worker process stored every accepted hit exactly once, rollups equal to raw rows.
    const stored = await eventually(
      async () => {
        const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM hits WHERE client_id = ${clientId}`.execute(env.db);
        return rows[0]?.n === 11 ? rows[0].n : undefined;
      },
      10_000,
      "11 hits stored",
    );
    expect(stored).toBe(11);
    const rollup = await env.db
      .selectFrom("usage_daily")
      .select((eb) => eb.fn.sum<number>("total").as("t"))
      .where("client_id", "=", clientId)
      .executeTakeFirst();
    expect(Number(rollup?.t)).toBe(11);
  });

  it("stops both processes gracefully on SIGTERM with exit code 0", async () => {
    gateway.child.kill("SIGTERM");
    worker.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
    expect(await worker.exited).toBe(0);
  });
});
