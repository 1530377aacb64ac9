import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { errors, OpsStats } from "@usage/contract";
import { type HitBatchJob, type HitQueues, readOpsSnapshot } from "@usage/store";
import type { Queue } from "bullmq";
import { requireAdmin, requireBearer } from "../auth/guards.ts";

type QueueStats = OpsStats["queue"];

/** A waiting job can be taken between reading its id and its time: look again, a few times. */
const OLDEST_TRIES = 3;

/** The enqueue time of a shard's oldest waiting job, if it has one. */
const oldestWaiting = async (queue: Queue<HitBatchJob>): Promise<number | undefined> => {
  let oldest: number | undefined;
  for (let attempt = 0; oldest === undefined && attempt < OLDEST_TRIES; attempt++) {
    // The oldest of each list (ascending order): BullMQ adds to the head and takes from the tail.
    const ids = await queue.getRanges(["waiting", "paused"], 0, 0, true);
    if (ids.length === 0) break;
    const client = await queue.client;
    const times = await Promise.all(ids.map((id) => client.hget(queue.toKey(id), "timestamp")));
    const found = times.filter((time): time is string => time !== null).map(Number);
    if (found.length > 0) oldest = Math.min(...found);
  }
  return oldest;
};

/**
 * Counts of the hit queue (its shards summed), and the age of its oldest waiting job read
 * from that job's `timestamp` field alone (not its payload, up to 500 hits). Jobs of a paused
 * queue wait too.
 */
export const readQueueStats = async (queues: HitQueues, now = Date.now()): Promise<QueueStats> => {
  const counts = await queues.counts("waiting", "paused", "prioritized", "active", "failed", "delayed");
  const waiting = counts.waiting + counts.paused + counts.prioritized;
  const oldestPerShard = waiting === 0 ? [] : await Promise.all(queues.shards.map(oldestWaiting));
  const found = oldestPerShard.filter((time): time is number => time !== undefined);
  const oldest = found.length === 0 ? undefined : Math.min(...found);
  return {
    waiting,
    active: counts.active,
    failed: counts.failed,
    delayed: counts.delayed,
    oldest_waiting_age_seconds: oldest === undefined ? 0 : Math.max(0, now - oldest) / 1000,
  };
};

/** GET /api/ops/stats (admin, from the allowlist). */
export const opsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook("onRequest", requireBearer);
  app.addHook("onRequest", requireAdmin);

  app.get(
    "/ops/stats",
    {
      schema: {
        tags: ["operations"],
        summary: "Ingest rate, hit queue, spools and live processes of the whole service (admin)",
        security: [{ bearer: [] }],
        response: { 200: OpsStats, ...errors(401, 403, 503) },
      },
    },
    async () => {
      const now = Date.now();
      const [snapshot, queue] = await Promise.all([readOpsSnapshot(app.redis, app.keys, now), readQueueStats(app.hitQueues, now)]);
      return {
        ingest: { hits_per_second: snapshot.hitsPerSecond },
        queue,
        spool: { bytes: snapshot.spoolBytes, segments: snapshot.spoolSegments },
        gateways: snapshot.gateways,
        workers: snapshot.workers,
      };
    },
  );
};
