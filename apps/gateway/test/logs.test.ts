import { randomUUID } from "node:crypto";
import { HIT } from "@usage/contract";
import type { JobType } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";

describe("POST /api/logs", () => {
  let gw: GatewayHarness;
  let client: TestClient;
  beforeAll(async () => {
    gw = await buildGateway();
    client = await gw.register("Logger", `Logger-${randomUUID()}@Example.com`);
  });
  afterAll(async () => {
    await gw.close();
  });

  /** The hit queue's jobs in these states, from every shard. */
  const jobsIn = async (states: JobType[]) => (await Promise.all(gw.app.hitQueues.shards.map((shard) => shard.getJobs(states)))).flat();

  const post = (payload: unknown, headers: Record<string, string> = { "x-api-key": client.api_key }) =>
    gw.inject({ method: "POST", url: "/api/logs", headers, payload: payload as Record<string, unknown> });

  const queuedHits = async (): Promise<unknown[][]> => {
    return (await jobsIn(["waiting", "active", "delayed", "prioritized"])).flatMap((job) => (job.data as { hits: unknown[][] }).hits);
  };

  it("answers 202 only once the hit is in the queue, without key or email in the job", async () => {
    const body = hit({ endpoint: "/v1/queued" });
    const response = await post(body);
    expect(response.statusCode, response.body).toBe(202);
    const { id, duplicate } = response.json();
    expect(duplicate).toBe(false);
    const queued = await queuedHits();
    const mine = queued.find((h) => h[HIT.id] === id);
    expect(mine).toEqual([
      client.client_id,
      id,
      Date.parse(body.timestamp as string),
      expect.any(Number),
      "203.0.113.7",
      "GET",
      200,
      "/v1/queued",
    ]);
    const raw = JSON.stringify(await jobsIn(["waiting", "active", "delayed"]));
    expect(raw).not.toContain(client.api_key);
    expect(raw.toLowerCase()).not.toContain(client.email.toLowerCase());
  });

  it("sets the quota headers on every answer", async () => {
    const ok = await post(hit());
    expect(ok.headers["x-ratelimit-limit"]).toBe("1000");
    expect(Number(ok.headers["x-ratelimit-remaining"])).toBeLessThan(1000);
    expect(Number(ok.headers["x-ratelimit-reset"])).toBeGreaterThan(0);
    const bad = await post(hit({ ip: "nope" }));
    expect(bad.statusCode).toBe(400);
    expect(bad.headers["x-ratelimit-limit"]).toBe("1000");
    expect(bad.headers["x-ratelimit-remaining"]).toBe(ok.headers["x-ratelimit-remaining"]);
  });

  it("refuses a revoked key with 401 on the first call (database) and on the next (cached identity)", async () => {
    const revoked = await gw.register();
    await gw.db.updateTable("clients").set({ revoked_at: new Date() }).where("client_id", "=", revoked.client_id).execute();
    for (let i = 0; i < 2; i++) expectError(await post(hit(), { "x-api-key": revoked.api_key }), 401, "UNAUTHORIZED");
    // A cached identity answers synchronously; one hook call must still answer exactly once.
    const ok = await Promise.all([post(hit()), post(hit())]);
    expect(ok.map((r) => r.statusCode)).toEqual([202, 202]);
  });

  it("accepts the key as the body's api_key and a client bearer token", async () => {
    const viaBody = await post({ api_key: client.api_key, ...hit() }, {});
    expect(viaBody.statusCode, viaBody.body).toBe(202);
    const token = await gw.tokenFor(client.api_key);
    const viaToken = await post(hit(), { authorization: `Bearer ${token}` });
    expect(viaToken.statusCode, viaToken.body).toBe(202);
  });

  it("makes event_id idempotent: the re-send is a duplicate, counted once", async () => {
    const eventId = randomUUID();
    const first = await post(hit({ event_id: eventId }));
    const second = await post(hit({ event_id: eventId, endpoint: "/v1/other" }));
    expect(first.json()).toEqual({ id: eventId, duplicate: false });
    expect(second.json()).toEqual({ id: eventId, duplicate: true });
    expect(Number(second.headers["x-ratelimit-remaining"])).toBe(Number(first.headers["x-ratelimit-remaining"]));
  });

  it("re-enqueues a duplicate with the first copy's timestamp, so storage dedups it", async () => {
    const eventId = randomUUID();
    const firstTs = new Date(Date.now() - 60_000).toISOString();
    await post(hit({ event_id: eventId, timestamp: firstTs }));
    await post(hit({ event_id: eventId, timestamp: new Date().toISOString() }));
    const copies = (await queuedHits()).filter((h) => h[HIT.id] === eventId);
    expect(copies.map((h) => h[HIT.ts])).toEqual([Date.parse(firstTs), Date.parse(firstTs)]);
  });

  it("flags the job of a duplicate as holding hits that may be stored, and only that job", async () => {
    const eventId = randomUUID();
    await post(hit({ event_id: eventId }));
    await post(hit({ event_id: eventId }));
    const jobs = (await jobsIn(["waiting", "active", "delayed", "prioritized"])).filter((job) =>
      (job.data as { hits: unknown[][] }).hits.some((h) => h[HIT.id] === eventId),
    );
    expect(jobs.map((job) => (job.data as { mayExist?: boolean }).mayExist).sort()).toEqual([true, undefined]);
  });

  it("accepts IPv6 and every HTTP method", async () => {
    for (const method of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const response = await post(hit({ ip: "2001:db8::1", method }));
      expect(response.statusCode, response.body).toBe(202);
    }
  });

  it("stores hostile endpoints verbatim", async () => {
    const endpoint = `/x?q=' OR 1=1;--&<script>"\\☃`;
    const response = await post(hit({ endpoint }));
    expect(response.statusCode, response.body).toBe(202);
    const mine = (await queuedHits()).find((h) => h[HIT.id] === response.json().id);
    expect(mine?.[HIT.endpoint]).toBe(endpoint);
  });

  it.each([
    ["an invalid ip", { ip: "1.2.3.999" }, /body\/ip must match format "ip"/],
    ["an ip with a zone id", { ip: "fe80::1%eth0" }, /body\/ip/],
    ["a missing ip", { ip: undefined }, /ip/],
    ["an endpoint without a leading slash", { endpoint: "v1/x" }, /body\/endpoint/],
    ["an empty endpoint", { endpoint: "" }, /body\/endpoint/],
    ["an endpoint over 2048 characters", { endpoint: `/${"a".repeat(2048)}` }, /body\/endpoint/],
    ["a NUL in the endpoint", { endpoint: "/a\u0000b" }, /body\/endpoint/],
    ["a timestamp that is not a date-time", { timestamp: "yesterday" }, /body\/timestamp/],
    ["a timestamp over 5 minutes ahead", { timestamp: new Date(Date.now() + 6 * 60_000).toISOString() }, /body\/timestamp .*future/],
    [
      "a timestamp older than MAX_EVENT_AGE_DAYS",
      { timestamp: new Date(Date.now() - 31 * 86_400_000).toISOString() },
      /body\/timestamp .*past/,
    ],
    ["an unknown method", { method: "FETCH" }, /body\/method/],
    ["a status below 100", { status: 99 }, /body\/status/],
    ["a status above 599", { status: 600 }, /body\/status/],
    ["an event_id that is not a uuid", { event_id: "abc" }, /body\/event_id/],
  ])("answers 400 VALIDATION_ERROR to %s", async (_what, overrides, message) => {
    const response = await post(hit(overrides));
    expectError(response, 400, "VALIDATION_ERROR");
    expect(response.json().message).toMatch(message);
  });

  it("accepts a timestamp 4 minutes ahead and one 29 days old", async () => {
    expect((await post(hit({ timestamp: new Date(Date.now() + 4 * 60_000).toISOString() }))).statusCode).toBe(202);
    expect((await post(hit({ timestamp: new Date(Date.now() - 29 * 86_400_000).toISOString() }))).statusCode).toBe(202);
  });

  it("answers 401 without a key, with an unknown key, and 403 to an admin token", async () => {
    expectError(await post(hit(), {}), 401, "UNAUTHORIZED");
    expectError(await post(hit(), { "x-api-key": "uk_nobody" }), 401, "UNAUTHORIZED");
    expectError(await post({ api_key: "uk_nobody", ...hit() }, {}), 401, "UNAUTHORIZED");
    expectError(await post(hit(), { authorization: `Bearer ${await gw.adminToken()}` }), 403, "FORBIDDEN");
  });

  it("answers 401 (not 400) to a stranger sending garbage", async () => {
    expectError(await post({ nonsense: true }, {}), 401, "UNAUTHORIZED");
  });

  it("answers 400 to malformed JSON, 415 to a body that is not JSON, 413 over the limit", async () => {
    const headers = { "x-api-key": client.api_key, "content-type": "application/json" };
    expectError(await gw.inject({ method: "POST", url: "/api/logs", headers, payload: '{"ip": ' }), 400, "VALIDATION_ERROR");
    expectError(
      await gw.inject({ method: "POST", url: "/api/logs", headers: { ...headers, "content-type": "text/plain" }, payload: "ip=1.2.3.4" }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
    expectError(
      await gw.inject({
        method: "POST",
        url: "/api/logs",
        headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
        payload: "a=b",
      }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
    const huge = JSON.stringify(hit({ endpoint: `/${"x".repeat(1024 * 1024)}` }));
    expectError(await gw.inject({ method: "POST", url: "/api/logs", headers, payload: huge }), 413, "PAYLOAD_TOO_LARGE");
  });
});
