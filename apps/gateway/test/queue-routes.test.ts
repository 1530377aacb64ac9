import { randomUUID } from "node:crypto";
import { toWireHit } from "@usage/contract";
import { type HitBatchJob, JOBS } from "@usage/store";
import { addFailedJobs } from "@usage/testkit";
import type { Queue } from "bullmq";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness } from "./helper.ts";

const batch = (n: number) => ({
  v: 1,
  hits: Array.from({ length: n }, () =>
    toWireHit({
      clientId: randomUUID(),
      id: randomUUID(),
      ts: Date.now(),
      receivedAt: Date.now(),
      ip: "198.51.100.23",
      method: "GET",
      status: 200,
      endpoint: "/secret-endpoint",
    }),
  ),
});

describe("GET /api/ops/queue/failed and POST /api/ops/queue/retry", () => {
  let gw: GatewayHarness;
  let admin: string;
  /** The first shard: its job ids are the API's ids as they are. */
  const queue = () => gw.app.hitQueues.shards[0] as Queue<HitBatchJob>;
  const fail = (payloads: unknown[], reason?: string) => addFailedJobs(queue(), JOBS.hitBatch, payloads, reason);
  const asAdmin = (method: "GET" | "POST", url: string, payload?: object) =>
    gw.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(payload === undefined ? {} : { payload }) });

  beforeAll(async () => {
    // Two shards, on one node too: the routes read and retry across them.
    gw = await buildGateway({ HIT_QUEUE_SHARDS: "2" });
    admin = await gw.adminToken();
  });
  afterAll(async () => gw.close());
  beforeEach(async () => {
    for (const shard of gw.app.hitQueues.shards) {
      await shard.clean(0, 0, "failed");
      await shard.drain();
    }
  });

  it("answers 401 without a token, 403 to a client and to an admin outside the allowlist", async () => {
    const client = await gw.register();
    const token = await gw.tokenFor(client.api_key);
    for (const [method, url] of [
      ["GET", "/api/ops/queue/failed"],
      ["POST", "/api/ops/queue/retry"],
    ] as const) {
      expectError(await gw.inject({ method, url }), 401, "UNAUTHORIZED");
      expectError(await gw.inject({ method, url, headers: { authorization: `Bearer ${token}` } }), 403, "FORBIDDEN");
      expectError(
        await gw.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, remoteAddress: "203.0.113.9" }),
        403,
        "FORBIDDEN",
      );
    }
  });

  it("lists failed hit jobs newest first with reason, attempts and hit count, never the payload", async () => {
    const empty = await asAdmin("GET", "/api/ops/queue/failed");
    expect(empty.statusCode, empty.body).toBe(200);
    expect(empty.json()).toEqual({ total: 0, data: [] });

    const [first, second] = await fail([batch(3), batch(5)], "connection to Postgres lost");
    const [poison] = await fail([{ not: "a batch" }], "invalid hit-batch payload");
    const response = await asAdmin("GET", "/api/ops/queue/failed");
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.total).toBe(3);
    expect(body.data.map((job: { id: string }) => job.id)).toEqual([poison, second, first]);
    expect(body.data[1]).toEqual({
      id: second,
      failed_reason: "connection to Postgres lost",
      attempts_made: 1,
      hits: 5,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      failed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(body.data[0]).toMatchObject({ id: poison, hits: 0, failed_reason: "invalid hit-batch payload" });
    expect(response.body).not.toContain("198.51.100.23");
    expect(response.body).not.toContain("/secret-endpoint");

    const limited = await asAdmin("GET", "/api/ops/queue/failed?limit=1");
    expect(limited.json()).toMatchObject({ total: 3, data: [{ id: poison }] });
  });

  it("refuses a limit outside 1..100 with 400", async () => {
    expectError(await asAdmin("GET", "/api/ops/queue/failed?limit=0"), 400, "VALIDATION_ERROR");
    expectError(await asAdmin("GET", "/api/ops/queue/failed?limit=101"), 400, "VALIDATION_ERROR");
  });

  it("retries the given ids with a fresh attempt budget and names the ones that are not failed jobs", async () => {
    const [a, b] = await fail([batch(1), batch(2)]);
    const response = await asAdmin("POST", "/api/ops/queue/retry", { ids: [a, "999999"] });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ retried: 1, not_failed: ["999999"] });
    const job = await queue().getJob(a as string);
    expect(await job?.getState()).toBe("waiting");
    expect(job?.attemptsMade).toBe(0);
    expect(await (await queue().getJob(b as string))?.getState()).toBe("failed");

    // Retried already: no longer a failed job.
    expect((await asAdmin("POST", "/api/ops/queue/retry", { ids: [a] })).json()).toEqual({ retried: 0, not_failed: [a] });
  });

  it("retries every failed job when no ids are given (no body, or {})", async () => {
    await fail([batch(1), batch(1), batch(1)]);
    const response = await gw.inject({ method: "POST", url: "/api/ops/queue/retry", headers: { authorization: `Bearer ${admin}` } });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ retried: 3, not_failed: [] });
    expect(await queue().getFailedCount()).toBe(0);
    expect(await queue().getWaitingCount()).toBe(3);
    expect((await asAdmin("POST", "/api/ops/queue/retry", {})).json()).toEqual({ retried: 0, not_failed: [] });
  });

  it("lists and retries the failed jobs of every shard, with ids unique across shards", async () => {
    const second = gw.app.hitQueues.shards[1] as Queue<HitBatchJob>;
    const [first] = await fail([batch(1)]);
    const [other] = await addFailedJobs(second, JOBS.hitBatch, [batch(2)]);
    // Both shards count from 1: the second shard's id names its shard.
    const listed = (await asAdmin("GET", "/api/ops/queue/failed")).json<{ total: number; data: Array<{ id: string; hits: number }> }>();
    expect(listed.total).toBe(2);
    expect(listed.data.map((job) => job.id).sort()).toEqual([first, `${second.name}:${other}`].sort());
    const retried = await asAdmin("POST", "/api/ops/queue/retry", { ids: [`${second.name}:${other}`, `${second.name}:999999`, "nope:1"] });
    expect(retried.json()).toEqual({ retried: 1, not_failed: [`${second.name}:999999`, "nope:1"] });
    expect(await (await second.getJob(other as string))?.getState()).toBe("waiting");
    expect((await asAdmin("POST", "/api/ops/queue/retry", {})).json()).toEqual({ retried: 1, not_failed: [] });
    expect(await queue().getFailedCount()).toBe(0);
  });

  it("refuses malformed retry bodies with 400", async () => {
    for (const payload of [{ ids: [] }, { ids: ["../x"] }, { ids: [1] }, { ids: ["1", "1"] }, { all: true }]) {
      expectError(await asAdmin("POST", "/api/ops/queue/retry", payload), 400, "VALIDATION_ERROR");
    }
  });

  it("is documented in the OpenAPI document", async () => {
    const doc = (await gw.inject({ method: "GET", url: "/docs/json" })).json();
    expect(doc.paths["/api/ops/queue/failed"].get.responses).toHaveProperty("200");
    expect(doc.paths["/api/ops/queue/retry"].post.responses).toHaveProperty("200");
  });
});
