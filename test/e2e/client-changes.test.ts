import { randomUUID } from "node:crypto";
import {
  ADMIN_KEY,
  type AppProcess,
  call,
  createTestEnv,
  eventually,
  spawnGateway,
  spawnWorker,
  startTcpProxy,
  type TcpProxy,
  type TestEnv,
} from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

/** One period of the gateways' re-check of changed clients (apps/gateway/src/clients/propagation.ts). */
const RECHECK_MS = 2_000;

/**
 * Client changes across two gateway processes sharing Postgres and Redis. Gateway B reaches
 * Redis through a TCP proxy, so the last test can cut its pub/sub and watch the re-check alone.
 */
describe("client changes across two gateway processes", () => {
  let env: TestEnv;
  let proxy: TcpProxy;
  let a: AppProcess;
  let b: AppProcess;
  let worker: Omit<AppProcess, "base">;
  let admin: string;

  beforeAll(async () => {
    env = await createTestEnv({ LOG_LEVEL: "error", RATE_LIMIT_PER_HOUR: "100000" });
    const redisUrl = new URL(env.config.redisUrl);
    proxy = await startTcpProxy(Number(redisUrl.port || 6379), redisUrl.hostname);
    redisUrl.port = String(proxy.port);
    [a, b] = await Promise.all([spawnGateway(env.env), spawnGateway({ ...env.env, REDIS_URL: redisUrl.toString() })]);
    worker = spawnWorker(env.env);
    admin = (await call(a.base, "POST", "/api/auth/token", undefined, { "x-api-key": ADMIN_KEY })).body.access_token as string;
  });
  afterAll(async () => {
    proxy?.restore();
    for (const p of [a, b, worker]) p?.child.kill("SIGTERM");
    await Promise.all([a, b, worker].map((p) => p?.exited));
    await proxy?.close();
    await env?.cleanup();
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const register = async () => {
    const client = (await call(a.base, "POST", "/api/register", { name: "Changing", email: `${randomUUID()}@example.com` })).body;
    const token = (await call(b.base, "POST", "/api/auth/token", undefined, { "x-api-key": client.api_key as string })).body
      .access_token as string;
    return { id: client.client_id as string, key: client.api_key as string, token };
  };
  const log = async (base: string, key: string) =>
    (await call(base, "POST", "/api/logs", { ip: "192.0.2.5", endpoint: "/c", timestamp: new Date().toISOString() }, { "x-api-key": key }))
      .status;
  const asAdmin = (base: string, method: string, path: string, body?: unknown) => call(base, method, path, body, bearer(admin));
  /** Hits through `base` until one answers `status`; the ms from `since` to that answer. */
  const until = async (base: string, key: string, status: number, since: number, limitMs: number): Promise<number> => {
    while (Date.now() - since < limitMs) {
      if ((await log(base, key)) === status) return Date.now() - since;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`${base} did not answer ${status} within ${limitMs} ms`);
  };

  it("a quota lowered through A applies on A at once and on B within 1 s", async () => {
    const client = await register();
    expect(await log(a.base, client.key)).toBe(202);
    expect(await log(b.base, client.key)).toBe(202); // both hold the client in their caches now
    const patched = await asAdmin(a.base, "PATCH", `/api/clients/${client.id}`, { rate_limit_per_hour: 0 });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const changedAt = Date.now();
    expect(await log(a.base, client.key)).toBe(429);
    const tookMs = await until(b.base, client.key, 429, changedAt, 1000);
    console.info(`quota 0 enforced by the other gateway ${tookMs} ms after the PATCH answered (pub/sub)`);
    expect(tookMs).toBeLessThan(1000);
  });

  it("a rotated key's predecessor works on both during the grace and answers 401 on both after it", async () => {
    const client = await register();
    expect(await log(a.base, client.key)).toBe(202);
    expect(await log(b.base, client.key)).toBe(202);
    const rotated = await asAdmin(b.base, "POST", `/api/clients/${client.id}/keys`, { grace_seconds: 2 });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(201);
    const newKey = rotated.body.api_key as string;
    const expiresAt = Date.parse(rotated.body.previous_key_expires_at as string);

    for (const base of [a.base, b.base]) {
      expect(await log(base, newKey)).toBe(202);
      expect(await log(base, client.key)).toBe(202);
    }
    expect(Date.now()).toBeLessThan(expiresAt); // the checks above ran inside the grace
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 20));
    for (const base of [a.base, b.base]) {
      expect(await log(base, client.key)).toBe(401);
      expect(await log(base, newKey)).toBe(202);
    }
  });

  it("a revoked client's key, token and open sockets stop on both; its stored hits stay and admins still see it", async () => {
    const client = await register();
    for (const base of [a.base, b.base]) expect(await log(base, client.key)).toBe(202);
    const sockets = [a.base, b.base].map((base) => {
      const socket = new WebSocket(`${base.replace("http", "ws")}/api/usage/stream?token=${client.token}`);
      return {
        socket,
        snapshot: new Promise<void>((resolve) => socket.once("message", () => resolve())),
        closed: new Promise<{ code: number; at: number }>((resolve) => socket.once("close", (code) => resolve({ code, at: Date.now() }))),
      };
    });
    await Promise.all(sockets.map((s) => s.snapshot));

    const revoked = await asAdmin(a.base, "POST", `/api/clients/${client.id}/revoke`);
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    const revokedAt = Date.now();

    const closes = await Promise.all(sockets.map((s) => s.closed));
    expect(closes.map((c) => c.code)).toEqual([4401, 4401]);
    for (const close of closes) expect(close.at - revokedAt).toBeLessThan(1000);
    for (const base of [a.base, b.base]) {
      expect(await log(base, client.key)).toBe(401);
      expect((await call(base, "GET", "/api/usage/daily", undefined, bearer(client.token))).status).toBe(401);
      expect((await call(base, "POST", "/api/auth/token", undefined, { "x-api-key": client.key })).status).toBe(401);
      const late = new WebSocket(`${base.replace("http", "ws")}/api/usage/stream?token=${client.token}`);
      expect(await new Promise((resolve) => late.once("close", resolve))).toBe(4401);
    }

    // The two hits accepted before stay stored and counted, and the admin still sees the client.
    await eventually(
      async () => {
        const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM hits WHERE client_id = ${client.id}`.execute(env.db);
        return rows[0]?.n === 2 ? true : undefined;
      },
      10_000,
      "the two hits stored",
    );
    const daily = await asAdmin(b.base, "GET", "/api/usage/daily?limit=1000");
    const row = (daily.body.data as Array<{ client_id: string; days: Array<{ total_requests: number }> }>).find(
      (r) => r.client_id === client.id,
    );
    expect(row?.days.at(-1)?.total_requests).toBe(2);
  });

  it("with B's pub/sub cut, the re-check alone brings B up to date within one period", async () => {
    const clients = [await register(), await register(), await register()];
    for (const client of clients) expect(await log(b.base, client.key)).toBe(202);
    // B loses its Redis connections, its subscription with them: the messages below never reach it.
    proxy.cut();
    try {
      const measured: number[] = [];
      for (const [i, client] of clients.entries()) {
        // Through A, which publishes as usual; one quota change, then a revocation, then a quota change again.
        const change =
          i === 1
            ? await asAdmin(a.base, "POST", `/api/clients/${client.id}/revoke`)
            : await asAdmin(a.base, "PATCH", `/api/clients/${client.id}`, { rate_limit_per_hour: 0 });
        expect(change.status, JSON.stringify(change.body)).toBe(200);
        measured.push(await until(b.base, client.key, i === 1 ? 401 : 429, Date.now(), RECHECK_MS + 1500));
      }
      console.info(`without pub/sub, the other gateway converged after ${measured.join(", ")} ms (re-check every ${RECHECK_MS} ms)`);
      for (const ms of measured) expect(ms).toBeLessThanOrEqual(RECHECK_MS + 500);
    } finally {
      proxy.restore();
    }
  });
});
