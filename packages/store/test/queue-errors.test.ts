import { randomUUID } from "node:crypto";
import { startPrivateRedis, TEST_REDIS_URL } from "@usage/testkit";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  closeAfterStart,
  createExportQueue,
  createHitQueues,
  createKeys,
  createMaintenanceQueue,
  createRedis,
  waitReady,
} from "../src/index.ts";

/**
 * BullMQ checks the server (INFO) when a queue starts. A process stopped within a second of
 * starting (on a cluster, often) closes queues while that check is in flight.
 */
describe("queue errors", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(() => void process.off("unhandledRejection", onUnhandled));

  it("reach each queue's listener, and none is left unhandled, when the connection closes during start", async () => {
    const connection = createRedis({ redisUrl: TEST_REDIS_URL, redisClusterNodes: undefined }, "blocking");
    await waitReady(connection);
    const keys = createKeys(`test:${randomUUID()}`);
    const heard: string[] = [];
    const onError = (_error: Error, queue: string): void => void heard.push(queue);
    const hits = createHitQueues(connection, keys, 2, { onError });
    const maintenance = createMaintenanceQueue(connection, keys, onError);
    const exports = createExportQueue(connection, keys, onError);
    // Closed while every queue's start-up check (INFO) is in flight.
    connection.disconnect();
    await expect.poll(() => [...heard].sort()).toEqual([...hits.shards.map((shard) => shard.name), maintenance.name, exports.name].sort());
    // Unhandled rejections are reported after the microtask queue drains.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
    await Promise.allSettled([hits.close(), maintenance.close(), exports.close()]);
  });

  it("a queue closed during its start-up check is closed after it, and leaves nothing unhandled", async () => {
    const redis = await startPrivateRedis();
    const admin = new Redis(redis.url);
    const connection = createRedis({ redisUrl: redis.url, redisClusterNodes: undefined }, "blocking");
    try {
      await waitReady(connection);
      // Holds the queue's start-up INFO unanswered, as a cluster node still connecting does.
      await admin.call("CLIENT", "PAUSE", "300", "ALL");
      const queue = createExportQueue(connection, createKeys(`test:${randomUUID()}`));
      const started = Date.now();
      await closeAfterStart(queue);
      const closedAfterMs = Date.now() - started;
      connection.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(unhandled).toEqual([]);
      expect(closedAfterMs).toBeGreaterThanOrEqual(200);
    } finally {
      connection.disconnect();
      admin.disconnect();
      await redis.stop();
    }
  });
});
