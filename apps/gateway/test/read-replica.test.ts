import { createLogger, utcDay } from "@usage/core";
import {
  createTemplate,
  eventually,
  type PrivatePgReplica,
  type PrivateRedis,
  pgQuery,
  startPgReplica,
  startPrivateRedis,
  waitForReplay,
} from "@usage/testkit";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import { buildApp } from "../src/app.ts";
import { buildGateway, type GatewayHarness, hit, type TestClient } from "./helper.ts";

/**
 * Gateways reading through a streaming replica (DATABASE_READ_URL) of their own primary:
 * which reads it serves, a key registered a moment ago, a change made through another
 * gateway while the replica lags, and the replica killed and restarted.
 */
describe("gateways with a read replica", () => {
  let pair: PrivatePgReplica;
  /** Gateway A, with the test's database handle (the primary) and Redis prefix. */
  let gw: GatewayHarness;
  /** Gateway B: same settings, another process as far as caches go. */
  let other: FastifyInstance;
  let admin: string;
  let template: string;
  const servers = () => ({ primary: pair.primaryUrl, replica: pair.replicaUrl });

  beforeAll(async () => {
    pair = await startPgReplica();
    template = await createTemplate(pair.primaryUrl);
    gw = await buildGateway({ REGISTER_LIMIT_PER_HOUR: "1000" }, { pg: servers(), template });
    other = await buildApp(gw.config, { logger: createLogger("replica-test", "silent") });
    await other.ready();
    admin = await gw.adminToken();
  });
  afterAll(async () => {
    await other?.close();
    await gw?.close();
    await pair?.stop();
  });

  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const registerOn = async (app: FastifyInstance): Promise<TestClient> => {
    const email = `r-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
    const response = await app.inject({ method: "POST", url: "/api/register", payload: { name: "Replica reader", email } });
    expect(response.statusCode, response.body).toBe(201);
    return response.json<TestClient>();
  };
  /** Until this gateway reads from the replica again (it has replayed all the gateway knows of). */
  const replicaInUse = (harness: GatewayHarness = gw) =>
    eventually(async () => {
      await harness.inject({ method: "GET", url: "/api/clients?limit=1", headers: as(admin) });
      return harness.app.reads.status().replica === "up" ? true : undefined;
    }, 10_000);
  /** The stream's first message (the snapshot); the listener is in place before the upgrade completes. */
  const firstMessage = async (app: FastifyInstance, token: string): Promise<Record<string, unknown>> => {
    let received: (message: Record<string, unknown>) => void = () => {};
    const first = new Promise<Record<string, unknown>>((resolve) => {
      received = resolve;
    });
    const socket: WebSocket = await app.injectWS(
      `/api/usage/stream?token=${token}`,
      {},
      {
        onInit: (ws) => {
          ws.once("message", (data) => received(JSON.parse(String(data))));
          ws.once("close", (code) => received({ closed: code }));
        },
      },
    );
    try {
      return await first;
    } finally {
      socket.terminate();
    }
  };

  it("answers listings, client reads and stream snapshots from the replica, on connections named usage-gateway-read", async () => {
    const client = await registerOn(gw.app);
    await gw.tokenFor(client.api_key); // cached now: the stream's own check costs no read
    await replicaInUse();
    const before = gw.app.reads.status().reads;
    const listing = await gw.inject({ method: "GET", url: `/api/clients?q=${encodeURIComponent(client.email)}`, headers: as(admin) });
    expect(listing.statusCode, listing.body).toBe(200);
    expect(listing.json().data.map((row: { client_id: string }) => row.client_id)).toEqual([client.client_id]);
    const read = await gw.inject({ method: "GET", url: `/api/clients/${client.client_id}`, headers: as(admin) });
    expect(read.statusCode, read.body).toBe(200);
    const token = await gw.tokenFor(client.api_key);
    expect(await firstMessage(gw.app, token)).toEqual({
      type: "usage.snapshot",
      date: utcDay(Date.now()),
      data: [{ client_id: client.client_id, total_requests: 0 }],
    });
    expect(gw.app.reads.status().reads.replica).toBeGreaterThanOrEqual(before.replica + 3);
    const sessions = await pgQuery<{ n: string }>(
      pair.replicaUrl,
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'usage-gateway-read' AND datname = $1",
      [new URL(gw.config.databaseUrl).pathname.slice(1)],
    );
    expect(Number(sessions[0]?.n)).toBeGreaterThan(0);
  });

  it("authenticates a key registered through another gateway at once, though the replica has not seen it", async () => {
    await replicaInUse();
    await pair.pauseReplay();
    try {
      const client = await registerOn(other);
      // A's replica cannot have it: each lookup that misses there is asked of the primary.
      const token = await gw.tokenFor(client.api_key);
      const logged = await gw.inject({ method: "POST", url: "/api/logs", headers: { "x-api-key": client.api_key }, payload: hit() });
      expect(logged.statusCode, logged.body).toBe(202);
      const daily = await gw.inject({ method: "GET", url: "/api/usage/daily", headers: as(token) });
      expect(daily.statusCode, daily.body).toBe(200);
      const read = await gw.inject({ method: "GET", url: `/api/clients/${client.client_id}`, headers: as(admin) });
      expect(read.statusCode, read.body).toBe(200);
      expect(read.json()).toMatchObject({ client_id: client.client_id, email: client.email });
    } finally {
      await pair.resumeReplay();
    }
  });

  it("applies a revocation made through another gateway within 1 s, though the replica still has the client active", async () => {
    const client = await registerOn(other);
    const log = () => gw.inject({ method: "POST", url: "/api/logs", headers: { "x-api-key": client.api_key }, payload: hit() });
    expect((await log()).statusCode).toBe(202); // A caches the client
    await replicaInUse();
    await pair.pauseReplay();
    try {
      const revoked = await other.inject({ method: "POST", url: `/api/clients/${client.client_id}/revoke`, headers: as(admin) });
      expect(revoked.statusCode, revoked.body).toBe(200);
      // The change message carries the primary's position: A reads this client from the primary,
      // not from a replica that would have it cached as active for another minute.
      const deadline = Date.now() + 1_000;
      let status = 0;
      while (Date.now() < deadline && status !== 401) status = (await log()).statusCode;
      expect(status).toBe(401);
      expect((await log()).statusCode).toBe(401);
    } finally {
      await pair.resumeReplay();
    }
  });

  describe("the replica killed", () => {
    let client: TestClient;
    let token: string;
    beforeAll(async () => {
      client = await registerOn(other);
      token = await other
        .inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": client.api_key } })
        .then((r) => r.json().access_token);
      await replicaInUse();
      await pair.killReplica();
    });
    afterAll(async () => {
      await pair.startReplica().catch(() => {});
    });

    it("keeps reads, listings and authentication answering 200 from the primary", async () => {
      const before = gw.app.reads.status().reads;
      // A has never seen this client: its key and token are looked up with the replica gone.
      expect((await gw.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": client.api_key } })).statusCode).toBe(200);
      for (const url of ["/api/clients?limit=5", `/api/clients/${client.client_id}`, "/api/usage/daily", "/api/usage/top"]) {
        const response = await gw.inject({ method: "GET", url, headers: as(admin) });
        expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
      }
      const own = await gw.inject({ method: "GET", url: "/api/usage/daily", headers: as(token) });
      expect(own.statusCode, own.body).toBe(200);
      expect(await firstMessage(gw.app, token)).toMatchObject({ type: "usage.snapshot", data: [{ client_id: client.client_id }] });
      expect(gw.app.reads.status().replica).toBe("down");
      expect(gw.app.reads.status().reads.primary).toBeGreaterThan(before.primary);
    });

    it("reads from the replica again once it is back", async () => {
      await pair.startReplica();
      await replicaInUse();
      const before = gw.app.reads.status().reads.replica;
      const listing = await gw.inject({ method: "GET", url: "/api/clients?limit=5", headers: as(admin) });
      expect(listing.statusCode, listing.body).toBe(200);
      expect(gw.app.reads.status().reads.replica).toBe(before + 1);
      const metrics = await gw.inject({ method: "GET", url: "/metrics" });
      expect(metrics.body).toMatch(/^usage_read_replica_up 1$/m);
      expect(metrics.body).toMatch(/^usage_db_reads_total\{server="replica"\} [1-9]\d*$/m);
    });
  });

  describe("with Redis down as well", () => {
    let redis: PrivateRedis;
    let alone: GatewayHarness;
    beforeAll(async () => {
      redis = await startPrivateRedis();
      alone = await buildGateway({ REDIS_URL: redis.url }, { pg: servers(), template });
    });
    afterAll(async () => {
      await pair.startReplica().catch(() => {});
      // Redis back, so the gateway closes its queue cleanly.
      await redis?.start();
      await alone?.close();
      await redis?.stop();
    });

    it("reads usage from the rollups on the replica, and on the primary once the replica is killed", async () => {
      const client = await registerOn(alone.app);
      const token = await alone.tokenFor(client.api_key);
      const today = utcDay(Date.now());
      await alone.db.insertInto("usage_daily").values({ client_id: client.client_id, day: today, total: 7 }).execute();
      await waitForReplay(pair.primaryUrl, pair.replicaUrl);
      await replicaInUse(alone);
      await redis.kill();
      const totalToday = async (url: string, bearer: string) => {
        const response = await alone.inject({ method: "GET", url, headers: as(bearer) });
        expect(response.statusCode, response.body).toBe(200);
        const row = response.json().data.find((r: { client_id: string }) => r.client_id === client.client_id);
        return row.days[6].total_requests as number;
      };

      const before = alone.app.reads.status().reads.replica;
      expect(await totalToday("/api/usage/daily", token)).toBe(7);
      expect(alone.app.reads.status().reads.replica).toBeGreaterThan(before);

      await pair.killReplica();
      // Another page size: an answer not yet held in memory, so the rollups are read again.
      const primaryBefore = alone.app.reads.status().reads.primary;
      expect(await totalToday("/api/usage/daily?limit=10", admin)).toBe(7);
      expect(await totalToday("/api/usage/daily?limit=11", admin)).toBe(7);
      expect(alone.app.reads.status()).toMatchObject({ replica: "down" });
      expect(alone.app.reads.status().reads.primary).toBeGreaterThan(primaryBefore);
    });
  });
});
