import { createRedisTestEnv, eventually, type RedisTestEnv } from "@usage/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { createKeys } from "../src/keys.ts";
import { type Heartbeat, LIVE_MS, readOpsSnapshot, startHeartbeat } from "../src/ops-heartbeat.ts";

describe("operations heartbeats on a real Redis", () => {
  const env: RedisTestEnv = createRedisTestEnv();
  const { redis, prefix } = env;
  const keys = createKeys(prefix);
  const started: Heartbeat[] = [];
  afterAll(async () => {
    await Promise.all(started.map((heartbeat) => heartbeat.stop()));
    await env.cleanup();
  });
  const start = (
    role: "gateway" | "worker",
    sample: () => { acceptedHits?: number; spoolBytes?: number; spoolSegments?: number } = () => ({}),
  ) => {
    const heartbeat = startHeartbeat({ redis, keys, role, sample });
    started.push(heartbeat);
    return heartbeat;
  };

  it("keeps every operations key in the one {ops} slot", () => {
    expect(keys.opsRate(1_700_000_000)).toBe(`${prefix}:{ops}:rate:1700000000`);
    expect(keys.opsMembers("gateway")).toBe(`${prefix}:{ops}:gateways`);
    expect(keys.opsMembers("worker")).toBe(`${prefix}:{ops}:workers`);
  });

  it("counts the live processes of each role, sums the gateways' spools, and counts a stopped one out at once", async () => {
    const a = start("gateway", () => ({ spoolBytes: 100, spoolSegments: 1 }));
    start("gateway", () => ({ spoolBytes: 50, spoolSegments: 2 }));
    start("worker");
    const snapshot = await eventually(async () => {
      const s = await readOpsSnapshot(redis, keys);
      return s.gateways === 2 && s.workers === 1 ? s : undefined;
    });
    expect(snapshot).toMatchObject({ spoolBytes: 150, spoolSegments: 3 });
    await a.stop();
    await a.stop();
    expect(await readOpsSnapshot(redis, keys)).toMatchObject({ gateways: 1, workers: 1, spoolBytes: 50, spoolSegments: 2 });
  });

  it("is no longer live three beats after its last one, and is forgotten after a minute", async () => {
    start("worker");
    await eventually(async () => ((await readOpsSnapshot(redis, keys)).workers >= 1 ? true : undefined));
    expect((await readOpsSnapshot(redis, keys, Date.now() + LIVE_MS + 1_500)).workers).toBe(0);
    await readOpsSnapshot(redis, keys, Date.now() + 61_000);
    expect(await redis.hlen(keys.opsMembers("worker"))).toBe(0);
  });

  it("credits accepted hits to their second and reports the mean over ten whole seconds", async () => {
    let total = 0;
    start("gateway", () => ({ acceptedHits: total }));
    const before = await readOpsSnapshot(redis, keys);
    total = 30;
    // Credited at the next beat, then read once that second is one of the window's.
    const after = await eventually(async () => {
      const s = await readOpsSnapshot(redis, keys);
      return s.hitsPerSecond > before.hitsPerSecond ? s : undefined;
    }, 5_000);
    expect(after.hitsPerSecond - before.hitsPerSecond).toBe(3);
    total = 50;
    await eventually(async () => ((await readOpsSnapshot(redis, keys)).hitsPerSecond === 5 ? true : undefined), 5_000);
    // Twelve seconds on, those seconds have left the window.
    expect((await readOpsSnapshot(redis, keys, Date.now() + 12_000)).hitsPerSecond).toBe(0);
  });
});
