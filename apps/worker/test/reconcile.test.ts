import { lastDays } from "@usage/core";
import { createCounters, createKeys } from "@usage/store";
import { createTestEnv, silentLogger, type TestEnv } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkerMetrics } from "../src/metrics.ts";
import { reconcile } from "../src/reconcile.ts";
import { clientId } from "./helper.ts";

describe("reconciler", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => env.cleanup());

  it("raises Redis counters that fell behind the committed rollups, and reports it", async () => {
    const keys = createKeys(env.config.redisPrefix);
    const counters = createCounters(env.redis, keys);
    const now = Date.now();
    const [today, yesterday] = [lastDays(now, 1)[0] as string, lastDays(now, 2)[0] as string];
    const lost = clientId();
    const fine = clientId();
    await env.db
      .insertInto("usage_daily")
      .values([
        { client_id: lost, day: today, total: 7 },
        { client_id: lost, day: yesterday, total: 3 },
        { client_id: fine, day: today, total: 2 },
      ])
      .execute();
    await env.db
      .insertInto("usage_hourly")
      .values({ client_id: lost, hour: new Date(now - (now % 3_600_000)), total: 7 })
      .execute();
    // Redis knows about `fine` (even a little ahead: in-flight hits) but lost `lost`.
    await counters.count(
      fine,
      100,
      [
        { eventId: null, ts: now },
        { eventId: null, ts: now },
        { eventId: null, ts: now },
      ],
      now,
    );

    const report = await reconcile(env.db, counters, createWorkerMetrics(), silentLogger(), now);
    expect(report).toMatchObject({ repairedDays: 2, repairedHours: 1, raisedBy: 17 });
    expect(await counters.dailyTotals(lost, [yesterday, today])).toEqual([3, 7]);
    expect(await counters.dailyTotals(fine, [today])).toEqual([3]);
    const top = await counters.rank({ hours: Array.from({ length: 25 }, (_, i) => Math.floor(now / 3_600_000) - 24 + i) }, 10);
    expect(top[0]).toEqual({ clientId: lost, total: 7 });

    const again = await reconcile(env.db, counters, createWorkerMetrics(), silentLogger(), now);
    expect(again).toMatchObject({ repairedDays: 0, repairedHours: 0, raisedBy: 0 });
  });
});
