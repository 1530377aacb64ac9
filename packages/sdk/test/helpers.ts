import { randomUUID } from "node:crypto";
import { type AppProcess, call, createTestEnv, eventually, freePort, spawnApp, spawnWorker, type TestEnv } from "@usage/testkit";
import { sql } from "kysely";
import { expect } from "vitest";

export interface Registered {
  apiKey: string;
  clientId: string;
}

export interface Stack {
  env: TestEnv;
  /** Fixed for the stack's life, so a restarted gateway answers where the SDK sends. */
  port: number;
  base: string;
  register(name?: string): Promise<Registered>;
  /** Starts (or restarts) the gateway on the stack's port, with extra settings for this start. */
  startGateway(extra?: Record<string, string>): Promise<void>;
  /** SIGKILL: no graceful close, requests in flight get no answer. */
  killGateway(): Promise<void>;
  /** Rows stored in Postgres for a client: all of them, and distinct ids. */
  stored(clientId: string): Promise<{ rows: number; ids: number }>;
  /** Waits until `expected` rows of the client are stored. */
  waitStored(clientId: string, expected: number, timeoutMs?: number): Promise<{ rows: number; ids: number }>;
  stop(): Promise<void>;
}

/** A real gateway and worker, as processes, on a database and Redis prefix of this file's own. */
export const startStack = async (settings: Record<string, string> = {}, options: { worker?: boolean } = {}): Promise<Stack> => {
  const env = await createTestEnv({ REGISTER_LIMIT_PER_HOUR: "1000", LOG_LEVEL: "error", ...settings });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let gateway: Omit<AppProcess, "base"> | undefined;
  const worker = options.worker === false ? undefined : spawnWorker(env.env);

  const stopGateway = async (signal: NodeJS.Signals): Promise<void> => {
    if (gateway === undefined) return;
    const { child, exited } = gateway;
    gateway = undefined;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };

  const stack: Stack = {
    env,
    port,
    base,
    async register(name = "SDK test") {
      const response = await call(base, "POST", "/api/register", { name, email: `sdk-${randomUUID()}@example.com` });
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      return { apiKey: response.body.api_key as string, clientId: response.body.client_id as string };
    },
    async startGateway(extra = {}) {
      await stopGateway("SIGTERM");
      gateway = spawnApp("apps/gateway/src/server.ts", { ...env.env, ...extra, PORT: String(port) });
      await eventually(async () => ((await fetch(`${base}/health/ready`)).ok ? true : undefined), 20_000, `gateway on ${port}`);
    },
    killGateway: () => stopGateway("SIGKILL"),
    async stored(clientId) {
      const { rows } = await sql<{ rows: number; ids: number }>`
        SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids FROM hits WHERE client_id = ${clientId}`.execute(env.db);
      return rows[0] ?? { rows: 0, ids: 0 };
    },
    async waitStored(clientId, expected, timeoutMs = 20_000) {
      await eventually(
        async () => ((await stack.stored(clientId)).rows >= expected ? true : undefined),
        timeoutMs,
        `${expected} rows stored`,
      );
      // A moment more, so a duplicate written late would show.
      await new Promise((resolve) => setTimeout(resolve, 300));
      return stack.stored(clientId);
    },
    async stop() {
      await stopGateway("SIGTERM");
      if (worker !== undefined) {
        worker.child.kill("SIGTERM");
        await worker.exited;
      }
      await env.cleanup();
    },
  };
  await stack.startGateway();
  return stack;
};

/** A hit as a metered API would report it. */
export const hit = (overrides: Record<string, unknown> = {}) => ({
  endpoint: "/v1/orders",
  ip: "203.0.113.7",
  method: "GET",
  status: 200,
  ...overrides,
});

export interface SeenRequest {
  path: string;
  apiKey: string | undefined;
  /** Hits in a batch body. */
  hits: number;
  body: string | undefined;
}

/** Sees every request the SDK makes while passing it to the platform's fetch (the server stays real). */
export const watchingFetch = () => {
  const requests: SeenRequest[] = [];
  const concurrency = { now: 0, peak: 0 };
  const fetchImpl: typeof fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const raw = init?.body;
    const body = typeof raw === "string" ? raw : raw instanceof Uint8Array ? new TextDecoder().decode(raw) : undefined;
    const hits = path === "/api/logs/batch" && body !== undefined ? (JSON.parse(body) as { hits: unknown[] }).hits.length : 0;
    requests.push({ path, apiKey: headers["x-api-key"], hits, body });
    concurrency.peak = Math.max(concurrency.peak, ++concurrency.now);
    try {
      return await fetch(input, init);
    } finally {
      concurrency.now--;
    }
  };
  return { fetch: fetchImpl, requests, concurrency, count: (path: string) => requests.filter((r) => r.path === path).length };
};
