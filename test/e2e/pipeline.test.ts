import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { ADMIN_KEY, createTestEnv, eventually, type TestEnv } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });

const spawnApp = (script: string, env: Record<string, string>): ChildProcess =>
  spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once("exit", (code) => resolve(code)));

/** The gateway and the worker as separate processes, driven over HTTP like a real client. */
describe("end to end: gateway and worker processes", () => {
  let env: TestEnv;
  let gateway: ChildProcess;
  let worker: ChildProcess;
  let base: string;

  beforeAll(async () => {
    env = await createTestEnv({ RATE_LIMIT_PER_HOUR: "100000" });
    const port = await freePort();
    const settings = { ...env.env, PORT: String(port), LOG_LEVEL: "warn" };
    gateway = spawnApp("apps/gateway/src/server.ts", settings);
    worker = spawnApp("apps/worker/src/main.ts", settings);
    base = `http://127.0.0.1:${port}`;
    await eventually(async () => ((await fetch(`${base}/health/ready`)).ok ? true : undefined), 20_000, "gateway ready");
  });

  afterAll(async () => {
    gateway?.kill("SIGTERM");
    worker?.kill("SIGTERM");
    await Promise.all([gateway && exited(gateway), worker && exited(worker)]);
    await env?.cleanup();
  });

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, unknown> & { data?: unknown[] },
    };
  };

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
    gateway.kill("SIGTERM");
    worker.kill("SIGTERM");
    expect(await exited(gateway)).toBe(0);
    expect(await exited(worker)).toBe(0);
  });
});
