import { randomUUID } from "node:crypto";
import { toWireHit } from "@usage/contract";
import { createHitQueues, createKeys, JOBS } from "@usage/store";
import { ADMIN_KEY, addFailedJobs, call, eventually } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorLine, printed, run, type System, start, startSystem, stderrShows } from "./harness.ts";

/** usagectl against a real gateway and worker: what the commands print, and that it is the API's JSON. */
describe("usagectl commands against a gateway and a worker", () => {
  let system: System;
  let admin: string;
  let replayClient: string;
  let failedIds: string[];
  let queuePrefix: string;
  const usagectl = (...args: string[]) => run(args, system.cli);
  const api = async (path: string) => (await call(system.gateway.base, "GET", path, undefined, { authorization: `Bearer ${admin}` })).body;
  const hit = (apiKey: string) =>
    call(
      system.gateway.base,
      "POST",
      "/api/logs",
      { ip: "192.0.2.1", endpoint: "/v1/x", timestamp: new Date().toISOString() },
      {
        "x-api-key": apiKey,
      },
    );

  beforeAll(async () => {
    system = await startSystem({ RATE_LIMIT_PER_HOUR: "100000" });
    admin = (await call(system.gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": ADMIN_KEY })).body.access_token as string;
    // Failed hit jobs, made before any worker runs: a good batch of a real client, and a poison one.
    replayClient = (
      await call(system.gateway.base, "POST", "/api/register", { name: "Replay", email: `replay-${randomUUID()}@example.com` })
    ).body.client_id as string;
    const queues = createHitQueues(system.env.redis, createKeys(system.env.config.redisPrefix), system.env.config.hitQueueShards);
    // The first shard: its job ids are the API's ids as they are.
    const queue = queues.shards[0] as (typeof queues.shards)[number];
    queuePrefix = queue.opts.prefix as string;
    const now = Date.now();
    const hits = [1, 2].map(() =>
      toWireHit({
        clientId: replayClient,
        id: randomUUID(),
        ts: now,
        receivedAt: now,
        ip: "192.0.2.9",
        method: "GET",
        status: 200,
        endpoint: "/r",
      }),
    );
    // The second job carries the same hits, as a job that failed after its commit would.
    failedIds = [
      ...(await addFailedJobs(
        queue,
        JOBS.hitBatch,
        [
          { v: 1, hits },
          { v: 1, hits },
        ],
        "connection terminated",
      )),
      ...(await addFailedJobs(queue, JOBS.hitBatch, [{ v: 2, junk: true }], "invalid hit-batch payload")),
    ];
    await queues.close();
    system.startWorker();
  });
  afterAll(async () => system?.stop());

  let acme: { client_id: string; api_key: string };

  it("clients create prints the new key once, with a warning on stderr; --json is the API's answer", async () => {
    const email = `acme-${randomUUID()}@example.com`;
    const json = await usagectl("clients", "create", "--name", "Acme", "--email", email, "--json");
    expect(json.code, printed(json)).toBe(0);
    const body = JSON.parse(json.stdout);
    expect(Object.keys(body).sort()).toEqual(["api_key", "client_id", "created_at", "email", "name"]);
    expect(body).toMatchObject({ name: "Acme", email });
    expect(json.stderr).toMatch(/^warning: the API key is shown this once/);
    acme = body;
    // The printed key is the real one.
    expect((await call(system.gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": acme.api_key })).status).toBe(200);

    const table = await usagectl("clients", "create", "--name", "Beta", "--email", `beta-${randomUUID()}@example.com`);
    expect(table.code, printed(table)).toBe(0);
    expect(table.stdout).toMatch(/^client_id +[0-9a-f-]{36}\nname +Beta\n/);
    expect(table.stdout).toMatch(/\napi_key +\S{32,}\n$/);
  });

  it("usage daily and usage top: the API's JSON with --json, aligned tables without", async () => {
    for (let i = 0; i < 3; i++) expect((await hit(acme.api_key)).status).toBe(202);
    const today = new Date().toISOString().slice(0, 10);
    const daily = await eventually(async () => {
      const result = await usagectl("usage", "daily", "--json");
      const body = JSON.parse(result.stdout);
      const row = body.data.find((c: { client_id: string }) => c.client_id === acme.client_id);
      return row?.days.at(-1)?.total_requests === 3 ? body : undefined;
    });
    expect(daily.data[0].days.at(-1)).toEqual({ date: today, total_requests: 3 });
    expect(daily).toEqual(await api("/api/usage/daily?limit=100"));

    const table = await usagectl("usage", "daily");
    expect(table.code, printed(table)).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^CLIENT_ID +NAME +(\d\d-\d\d +){6}\d\d-\d\d +7 DAYS$/);
    const row = rows.find((line) => line.startsWith(acme.client_id)) as string;
    expect(row.indexOf("Acme")).toBe(header?.indexOf("NAME"));
    expect(row).toMatch(/ 3 +3$/);
    // Numbers right-aligned under their header.
    expect(row.length).toBe(header?.length);

    const top = await usagectl("usage", "top", "--json", "--limit", "5");
    expect(top.code, printed(top)).toBe(0);
    const topBody = JSON.parse(top.stdout);
    expect(topBody.data).toEqual((await api("/api/usage/top?limit=5")).data);
    expect(topBody.data[0]).toEqual({ client_id: acme.client_id, name: "Acme", total_requests: 3 });
    expect(Object.keys(topBody.window)).toEqual(["from", "to"]);

    const topTable = await usagectl("usage", "top");
    expect(topTable.stdout.split("\n")[0]).toMatch(/^# +CLIENT_ID +NAME +HITS$/);
    expect(topTable.stdout.split("\n")[1]).toMatch(new RegExp(`^1  ${acme.client_id}  Acme +3$`));
    expect(topTable.stderr).toMatch(/^window: \S+ \.\. \S+\n$/);
  });

  it("stream tails usage.updated: one JSON message per line with --json, a line per update without", async () => {
    // The stream reports what the worker stores: first let it store the hits sent so far.
    await eventually(
      async () => {
        const { rows } = await sql<{
          total: number;
        }>`SELECT sum(total)::int AS total FROM usage_daily WHERE client_id = ${acme.client_id}`.execute(system.env.db);
        return rows[0]?.total === 3 ? true : undefined;
      },
      10_000,
      "the first 3 hits stored",
    );
    const tail = start(["stream", "--json", "--count", "1", "--client", acme.client_id], system.cli);
    tail.stdin?.end();
    await stderrShows(tail, "listening on ws://");
    expect((await hit(acme.api_key)).status).toBe(202);
    const result = await tail.done;
    expect(result.code, printed(result)).toBe(0);
    // The token is a credential: never printed.
    expect(result.stderr).toMatch(/^listening on ws:\/\/127\.0\.0\.1:\d+\/api\/usage\/stream \(Ctrl-C to stop\)\n$/);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toEqual({
      type: "usage.updated",
      client_id: acme.client_id,
      date: new Date().toISOString().slice(0, 10),
      delta: 1,
      total_requests: 4,
    });

    const human = start(["stream", "--count", "1"], system.cli);
    human.stdin?.end();
    await stderrShows(human, "listening on ws://");
    expect((await hit(acme.api_key)).status).toBe(202);
    const humanResult = await human.done;
    expect(humanResult.code, printed(humanResult)).toBe(0);
    expect(humanResult.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${acme.client_id}  \\d{4}-\\d\\d-\\d\\d  \\+1  total 5\\n$`));
    expect(humanResult.stderr).toMatch(/today \(\d{4}-\d\d-\d\d\): \d+ active client\(s\)/);
  });

  it("doctor: every check passes, exit 0; --json carries /health/ready's answer", async () => {
    const table = await usagectl("doctor");
    expect(table.code, printed(table)).toBe(0);
    expect(table.stdout).toMatch(/^CHECK +STATUS +DETAIL\ngateway +ok +.+\npostgres +ok +up\nredis +ok +up\nadmin_key +ok +accepted/);

    const json = await usagectl("doctor", "--json");
    expect(json.code, printed(json)).toBe(0);
    const body = JSON.parse(json.stdout);
    expect(body.ok).toBe(true);
    expect(body.checks.map((check: { name: string; ok: boolean }) => [check.name, check.ok])).toEqual([
      ["gateway", true],
      ["postgres", true],
      ["redis", true],
      ["admin_key", true],
    ]);
    expect(body.ready).toEqual((await call(system.gateway.base, "GET", "/health/ready")).body);
  });

  it("queue failed lists the failed hit jobs; queue retry replays them and the worker stores their hits", async () => {
    const [good, duplicate, poison] = failedIds as [string, string, string];
    const json = await usagectl("queue", "failed", "--json");
    expect(json.code, printed(json)).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await api("/api/ops/queue/failed?limit=20"));
    expect(JSON.parse(json.stdout)).toMatchObject({
      total: 3,
      data: [
        { id: poison, hits: 0, failed_reason: "invalid hit-batch payload", attempts_made: 1 },
        { id: duplicate, hits: 2, failed_reason: "connection terminated", attempts_made: 1 },
        { id: good, hits: 2, failed_reason: "connection terminated", attempts_made: 1 },
      ],
    });

    const table = await usagectl("queue", "failed");
    expect(table.code, printed(table)).toBe(0);
    const [header, first] = table.stdout.split("\n");
    expect(header).toMatch(/^JOB_ID +FAILED_AT +ATTEMPTS +HITS +REASON$/);
    expect(first).toMatch(new RegExp(`^${poison} +\\S+Z +1 +0  invalid hit-batch payload$`));
    expect(table.stderr).toBe("3 of 3 failed job(s) shown\n");

    const retried = await usagectl("queue", "retry", good);
    expect(retried.code, printed(retried)).toBe(0);
    expect(retried.stdout).toBe("retried 1 job(s)\n");
    // The worker stored the replayed job's hits (these hits never passed a gateway, so Postgres is where they show).
    await eventually(
      async () => {
        const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM hits WHERE client_id = ${replayClient}`.execute(
          system.env.db,
        );
        return rows[0]?.n === 2 ? true : undefined;
      },
      10_000,
      "the replayed hits to be stored",
    );

    // Retried already: not a failed job any more, exit 4 with one line.
    const again = await usagectl("queue", "retry", good);
    expect(again.code, printed(again)).toBe(4);
    expect(errorLine(again)).toBe(`error: not failed jobs (unknown, or not in the failed state): ${good}`);

    const all = await usagectl("queue", "retry", "--all", "--json");
    expect(all.code, printed(all)).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual({ retried: 2, not_failed: [] });
    // The poison job fails again in the worker, and is listed again; the duplicate goes through.
    await eventually(
      async () => {
        const body = JSON.parse((await usagectl("queue", "failed", "--json")).stdout);
        const duplicateGone = (await system.env.redis.exists(`${queuePrefix}:hits:${duplicate}`)) === 0;
        return body.total === 1 && body.data[0].id === poison && duplicateGone ? true : undefined;
      },
      10_000,
      "the poison job to fail again and the duplicate to complete",
    );
    // The duplicate's hits were stored once and counted once.
    const { rows } = await sql<{ n: number; total: number }>`
      SELECT (SELECT count(*)::int FROM hits WHERE client_id = ${replayClient}) AS n,
             (SELECT sum(total)::int FROM usage_daily WHERE client_id = ${replayClient}) AS total`.execute(system.env.db);
    expect(rows[0]).toEqual({ n: 2, total: 2 });
  });

  it("queue stats: the API's figures with --json, one per line without", async () => {
    // Heartbeats come once a second: wait until both processes are counted.
    const body = await eventually(
      async () => {
        const result = await usagectl("queue", "stats", "--json");
        const parsed = JSON.parse(result.stdout);
        return parsed.gateways === 1 && parsed.workers === 1 ? parsed : undefined;
      },
      10_000,
      "one gateway and one worker in the stats",
    );
    const fromApi = await api("/api/ops/stats");
    // Same answer shape and the same slow-moving figures (the rate and the lag move between two calls).
    expect(Object.keys(body)).toEqual(Object.keys(fromApi));
    expect(Object.keys(body.queue)).toEqual(Object.keys(fromApi.queue as object));
    expect(body.queue.failed).toBe(1);
    expect(body.spool).toEqual({ bytes: 0, segments: 0 });

    const table = await usagectl("queue", "stats");
    expect(table.code, printed(table)).toBe(0);
    expect(table.stdout).toMatch(/^ingest hits\/s +[\d.]+\nqueue waiting +\d+\nqueue active +\d+\nqueue delayed +\d+\nqueue failed +1\n/);
    expect(table.stdout).toMatch(/\ngateways +1\nworkers +1\n$/);
  });

  it("stream exits 7 with one line when the gateway goes away", async () => {
    const tail = start(["stream"], system.cli);
    tail.stdin?.end();
    await stderrShows(tail, "listening on ws://");
    system.gateway.child.kill("SIGTERM");
    const result = await tail.done;
    expect(result.code, printed(result)).toBe(7);
    expect(result.stderr.trimEnd().split("\n").at(-1)).toMatch(/^error: the stream ended \(close 10\d\d/);
  });
});
