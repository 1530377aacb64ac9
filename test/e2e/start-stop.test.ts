import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createHitQueues, createKeys } from "@usage/store";
import { call, createTestEnv, eventually, freePort, type TestEnv } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REQUESTS = 40;
const HITS_PER_REQUEST = 1000;

/** `pnpm start` as a terminal runs it: its own process group, which Ctrl-C signals as a whole. */
describe("pnpm start stopped with Ctrl-C", () => {
  let env: TestEnv;
  let start: ChildProcess;
  let exited: Promise<number | null>;
  let base: string;

  beforeAll(async () => {
    env = await createTestEnv({ RATE_LIMIT_PER_HOUR: "1000000000", LOG_LEVEL: "warn" });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    start = spawn(process.execPath, ["scripts/start.ts"], {
      env: { ...process.env, ...env.env, PORT: String(port) },
      stdio: ["ignore", "ignore", "inherit"],
      detached: true,
    });
    exited = new Promise((resolve) => start.once("exit", (code) => resolve(code)));
    await eventually(async () => ((await fetch(`${base}/health/ready`)).ok ? true : undefined), 30_000, "gateway ready");
  });

  afterAll(async () => {
    if (start?.exitCode === null && start.signalCode === null) {
      start.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    }
    await env?.cleanup();
  });

  it("stores every hit accepted before the signal, leaves the queue empty and exits 0", { timeout: 90_000 }, async () => {
    const registered = await call(base, "POST", "/api/register", { name: "Stop", email: `stop-${randomUUID()}@example.com` });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const apiKey = registered.body.api_key as string;
    const clientId = registered.body.client_id as string;
    const timestamp = new Date().toISOString();
    const batch = { hits: Array.from({ length: HITS_PER_REQUEST }, () => ({ ip: "192.0.2.1", endpoint: "/stop", timestamp })) };

    const responses = await Promise.all(
      Array.from({ length: REQUESTS }, () => call(base, "POST", "/api/logs/batch", batch, { "x-api-key": apiKey })),
    );
    process.kill(-(start.pid as number), "SIGINT");
    expect(responses.map((r) => r.status)).toEqual(Array(REQUESTS).fill(202));
    const accepted = responses.reduce((sum, r) => sum + (r.body.accepted as number), 0);
    expect(accepted).toBe(REQUESTS * HITS_PER_REQUEST);

    expect(await exited).toBe(0);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM hits WHERE client_id = ${clientId}`.execute(env.db);
    expect(rows[0]?.n).toBe(accepted);
    const queues = createHitQueues(env.redis, createKeys(env.config.redisPrefix), env.config.hitQueueShards);
    try {
      expect(await queues.counts("waiting", "active", "delayed")).toEqual({ waiting: 0, active: 0, delayed: 0 });
    } finally {
      await queues.close();
    }
  });
});
