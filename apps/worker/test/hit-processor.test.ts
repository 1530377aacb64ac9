import { randomUUID } from "node:crypto";
import { decodeUsageChanges } from "@usage/contract";
import { createRedis, subscribe } from "@usage/store";
import { eventually } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientId, rawCount, rollupMismatches, startTestWorker, type WorkerHarness, wireHit } from "./helper.ts";

describe("hit worker on a real queue and database", () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startTestWorker();
  });
  afterAll(async () => h.close());

  const drained = async () =>
    eventually(
      async () => {
        const counts = await h.queue.getJobCounts("waiting", "active", "delayed", "prioritized");
        return Object.values(counts).every((n) => n === 0) ? true : undefined;
      },
      15_000,
      "queue drained",
    );

  it("stores a job's hits and adds them to the daily and hourly rollups", async () => {
    const client = clientId();
    const hits = Array.from({ length: 50 }, () => wireHit(client));
    await h.queue.add("hit-batch", { v: 1, hits });
    await eventually(async () => ((await rawCount(h, client)) === 50 ? true : undefined), 10_000, "50 hits stored");
    const daily = await h.db.selectFrom("usage_daily").select(["day", "total"]).where("client_id", "=", client).execute();
    expect(daily).toEqual([{ day: new Date().toISOString().slice(0, 10), total: 50 }]);
    const hourly = await h.db
      .selectFrom("usage_hourly")
      .select((eb) => eb.fn.sum<number>("total").as("total"))
      .where("client_id", "=", client)
      .executeTakeFirst();
    expect(Number(hourly?.total)).toBe(50);
  });

  it("counts a hit once however often its job is delivered (idempotent on client, id, time)", async () => {
    const client = clientId();
    const hits = Array.from({ length: 20 }, () => wireHit(client));
    for (let i = 0; i < 3; i++) await h.queue.add("hit-batch", { v: 1, hits });
    await h.queue.add("hit-batch", { v: 1, hits: [...hits.slice(0, 5), wireHit(client)] });
    await drained();
    expect(await rawCount(h, client)).toBe(21);
    const daily = await h.db.selectFrom("usage_daily").select("total").where("client_id", "=", client).executeTakeFirstOrThrow();
    expect(daily.total).toBe(21);
    expect(await rollupMismatches(h)).toBe(0);
  });

  it("files hits under their own UTC day, including late ones", async () => {
    const client = clientId();
    const threeDaysAgo = Date.now() - 3 * 86_400_000;
    await h.queue.add("hit-batch", { v: 1, hits: [wireHit(client, { ts: threeDaysAgo }), wireHit(client)] });
    await eventually(async () => ((await rawCount(h, client)) === 2 ? true : undefined));
    const days = await h.db.selectFrom("usage_daily").select(["day", "total"]).where("client_id", "=", client).orderBy("day").execute();
    expect(days).toEqual([
      { day: new Date(threeDaysAgo).toISOString().slice(0, 10), total: 1 },
      { day: new Date().toISOString().slice(0, 10), total: 1 },
    ]);
  });

  it("publishes one usage change per touched client-day after commit", async () => {
    // Sharded pub/sub on a cluster, plain on one node: listened to as a gateway does.
    const subscriber = createRedis(h.workerConfig, "subscriber");
    const messages: unknown[] = [];
    await subscribe(subscriber, `${h.config.redisPrefix}:usage-updated`, (message) => messages.push(...JSON.parse(message)));
    const client = clientId();
    await h.queue.add("hit-batch", { v: 1, hits: [wireHit(client), wireHit(client), wireHit(client)] });
    const event = await eventually(async () => messages.find((m) => (m as { client_id: string }).client_id === client));
    expect(event).toEqual({ client_id: client, date: new Date().toISOString().slice(0, 10), delta: 3, total_requests: 3 });
    subscriber.disconnect();
  });

  it("publishes the change message in the contract's encoding, one entry per client-day", async () => {
    const subscriber = createRedis(h.workerConfig, "subscriber");
    const messages: string[] = [];
    await subscribe(subscriber, `${h.workerConfig.redisPrefix}:usage-updated`, (message) => messages.push(message));
    const client = clientId();
    const yesterday = Date.now() - 86_400_000;
    await h.queue.add("hit-batch", { v: 1, hits: [wireHit(client), wireHit(client, { ts: yesterday }), wireHit(client)] });
    const message = await eventually(async () => messages.find((m) => m.includes(client)));
    expect(decodeUsageChanges(message)?.sort((a, b) => a.date.localeCompare(b.date))).toEqual([
      { client_id: client, date: new Date(yesterday).toISOString().slice(0, 10), delta: 1, total_requests: 1 },
      { client_id: client, date: new Date().toISOString().slice(0, 10), delta: 2, total_requests: 2 },
    ]);
    subscriber.disconnect();
  });

  it("fails a poison payload at once instead of retrying it", async () => {
    const job = await h.queue.add("hit-batch", { v: 1, hits: "not a list" } as never);
    const state = await eventually(async () => {
      const s = await job.getState();
      return s === "failed" ? s : undefined;
    });
    expect(state).toBe("failed");
    const failed = await h.queue.getJob(job.id as string);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toContain("invalid hit-batch payload");
  });

  it("sets aside a hit that breaks the job schema and stores the others of its job", async () => {
    const client = clientId();
    const good = [wireHit(client), wireHit(client)];
    const malformed = [client, "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427", Date.now(), Date.now(), "192.0.2.1", null, null, "/m"];
    const job = await h.queue.add("hit-batch", { v: 1, hits: [good[0], malformed, good[1]] } as never);
    await eventually(async () => ((await rawCount(h, client)) === 2 ? true : undefined), 10_000, "the two good hits stored");
    // Completed hit jobs are removed at once ("unknown"); a failed one would be kept for a week.
    await eventually(async () => (["completed", "unknown"].includes(await job.getState()) ? true : undefined), 5_000, "job done");
    const rejected = await h.db.selectFrom("rejected_hits").select("hit").execute();
    expect(rejected.some((r) => JSON.stringify(r.hit).includes("urn:uuid:"))).toBe(true);
  });

  it("sets one bad row aside in rejected_hits and stores the rest of its batch", async () => {
    const client = clientId();
    const good = Array.from({ length: 9 }, () => wireHit(client));
    // Valid for the payload schema, refused by Postgres' inet type.
    const bad = wireHit(client, { ip: "999.1.1.1" });
    await h.queue.add("hit-batch", { v: 1, hits: [...good.slice(0, 4), bad, ...good.slice(4)] });
    await eventually(async () => ((await rawCount(h, client)) === 9 ? true : undefined), 10_000, "good hits stored");
    const rejected = await h.db.selectFrom("rejected_hits").select(["reason", "hit"]).execute();
    expect(rejected.some((r) => JSON.stringify(r.hit).includes(bad[1]))).toBe(true);
    expect(await rollupMismatches(h)).toBe(0);
  });

  it("keeps hostile strings verbatim, whatever they hold of SQL or array-literal syntax", async () => {
    const client = clientId();
    const endpoints = [
      `/'; DROP TABLE hits; -- ${randomUUID()} "\\☃`,
      "/a,b{c}d",
      "NULL",
      "null",
      "Null",
      '\\"}{,\\',
      " spaced ",
      "a\tb",
      "{}",
      "\\",
    ];
    await h.queue.add("hit-batch", { v: 1, hits: endpoints.map((endpoint) => wireHit(client, { endpoint })) });
    const rows = await eventually(async () => {
      const found = await h.db.selectFrom("hits").select("endpoint").where("client_id", "=", client).execute();
      return found.length === endpoints.length ? found : undefined;
    });
    expect(rows.map((r) => r.endpoint).sort()).toEqual([...endpoints].sort());
  });
});
