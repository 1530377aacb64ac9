import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toWireHit } from "@usage/contract";
import { JOBS } from "@usage/store";
import { eventually, startTcpProxy, type TcpProxy, TEST_REDIS_URL, uniqueSuffix } from "@usage/testkit";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit } from "./helper.ts";

interface Stats {
  ingest: { hits_per_second: number };
  queue: { waiting: number; active: number; failed: number; delayed: number; oldest_waiting_age_seconds: number };
  spool: { bytes: number; segments: number };
  gateways: number;
  workers: number;
}

const wireHit = () =>
  toWireHit({
    clientId: randomUUID(),
    id: randomUUID(),
    ts: Date.now(),
    receivedAt: Date.now(),
    ip: "192.0.2.1",
    method: "GET",
    status: 200,
    endpoint: "/s",
  });

/**
 * A segment another live process is still writing (the parent of this test process): counted
 * by this gateway's spool at start and never replayed by it, so its size stays known.
 */
const foreignSegment = async (dir: string): Promise<number> => {
  const line = `${JSON.stringify([1, [wireHit()]])}\n`;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `active-${process.ppid}-0a1b2c-1.jsonl`), line);
  return Buffer.byteLength(line);
};

describe("GET /api/ops/stats", () => {
  let gw: GatewayHarness;
  let admin: string;
  let spoolBytes: number;
  beforeAll(async () => {
    const spoolDir = join(tmpdir(), `usage-spool-ops-${uniqueSuffix()}`);
    spoolBytes = await foreignSegment(spoolDir);
    // No worker runs here: every job the hits make stays waiting.
    gw = await buildGateway({ SPOOL_DIR: spoolDir });
    admin = await gw.adminToken();
  });
  afterAll(async () => gw?.close());

  const stats = async (): Promise<Stats> => {
    const response = await gw.inject({ method: "GET", url: "/api/ops/stats", headers: { authorization: `Bearer ${admin}` } });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<Stats>();
  };

  it("reports the accepted hits, the waiting jobs with their age, the spool and this gateway", async () => {
    const client = await gw.register();
    const headers = { "x-api-key": client.api_key };
    const eventId = randomUUID();
    const startedAt = Date.now();
    // Sequential requests: each one's group is flushed as its own job before the next starts.
    for (const payload of [hit({ event_id: eventId }), hit(), hit(), hit()]) {
      expect((await gw.inject({ method: "POST", url: "/api/logs", headers, payload })).statusCode).toBe(202);
    }
    const batch = await gw.inject({ method: "POST", url: "/api/logs/batch", headers, payload: { hits: [hit(), hit(), hit()] } });
    expect(batch.statusCode, batch.body).toBe(202);
    // A duplicate is answered 202 and enqueued again, but it is no new hit.
    const duplicate = await gw.inject({ method: "POST", url: "/api/logs", headers, payload: hit({ event_id: eventId }) });
    expect(duplicate.json()).toMatchObject({ duplicate: true });
    // One retry waiting out its delay.
    await gw.app.hitQueues.shards[0]?.add(JOBS.hitBatch, { v: 1, hits: [wireHit()] }, { delay: 60_000 });

    // 7 new hits, credited at the next beat, in the window once their second is 2 s old.
    const seen = await eventually(
      async () => {
        const s = await stats();
        // All of them: requests that straddle a second's boundary are credited to two seconds.
        return s.ingest.hits_per_second >= 0.7 - 1e-9 ? s : undefined;
      },
      6_000,
      "the hits in the rate",
    );
    const readAt = Date.now();
    expect(seen.ingest.hits_per_second).toBeCloseTo(0.7, 10);
    expect(seen.queue).toMatchObject({ waiting: 6, active: 0, failed: 0, delayed: 1 });
    // The oldest job was added after startedAt and was at least a second old when read.
    expect(seen.queue.oldest_waiting_age_seconds).toBeGreaterThanOrEqual(1);
    expect(seen.queue.oldest_waiting_age_seconds).toBeLessThanOrEqual((readAt - startedAt) / 1000);
    expect(seen.spool).toEqual({ bytes: spoolBytes, segments: 1 });
    expect(seen).toMatchObject({ gateways: 1, workers: 0 });
  });

  it("is in the OpenAPI document with its response schema", async () => {
    const doc = (await gw.inject({ method: "GET", url: "/docs/json" })).json();
    const operation = doc.paths["/api/ops/stats"]?.get;
    expect(operation?.tags).toEqual(["operations"]);
    expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(["200", "401", "403", "503"]));
    expect(Object.keys(operation.responses["200"].content["application/json"].schema.properties).sort()).toEqual([
      "gateways",
      "ingest",
      "queue",
      "spool",
      "workers",
    ]);
  });
});

describe("GET /api/ops/stats with Redis unreachable", () => {
  let proxy: TcpProxy;
  let gw: GatewayHarness;
  beforeAll(async () => {
    proxy = await startTcpProxy(Number(new URL(TEST_REDIS_URL).port || 6379), new URL(TEST_REDIS_URL).hostname);
    gw = await buildGateway({ REDIS_URL: proxy.url("redis") });
  });
  afterAll(async () => {
    proxy?.restore();
    await gw?.close();
    await proxy?.close();
  });

  it("answers 503 UNAVAILABLE, not a 500", async () => {
    const admin = await gw.adminToken();
    proxy.cut();
    let response: LightMyRequestResponse | undefined;
    await eventually(async () => {
      response = await gw.inject({ method: "GET", url: "/api/ops/stats", headers: { authorization: `Bearer ${admin}` } });
      return response.statusCode === 503 ? true : undefined;
    }, 5_000);
    expectError(response as LightMyRequestResponse, 503, "UNAVAILABLE");
  });
});
