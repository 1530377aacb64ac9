import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { errors, type FailedJob, FailedJobs, FailedJobsQuery, QueueRetried, QueueRetryBody } from "@usage/contract";
import type { HitBatchJob, HitQueues } from "@usage/store";
import type { Job, Queue } from "bullmq";
import { requireAdmin, requireBearer } from "../auth/guards.ts";

const SECURITY: Array<Record<string, string[]>> = [{ bearer: [] }];
const TAGS = ["operations"];
const MAX_REASON = 500;
/** Jobs retried at once: each retry is one round trip, and a "retry all" may name thousands. */
const RETRY_CONCURRENCY = 32;

/** What an operator may see of a failed job: never its payload (IPs, endpoints), only its size. */
const describe = (queues: HitQueues, shard: Queue<HitBatchJob>, job: Job<HitBatchJob>): FailedJob => {
  const hits = (job.data as Partial<HitBatchJob> | undefined)?.hits;
  const reason = job.failedReason ?? "";
  return {
    id: queues.jobId(shard, String(job.id)),
    failed_reason: reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason,
    attempts_made: job.attemptsMade,
    hits: Array.isArray(hits) ? hits.length : 0,
    created_at: new Date(job.timestamp).toISOString(),
    failed_at: job.finishedOn === undefined ? null : new Date(job.finishedOn).toISOString(),
  };
};

/** BullMQ's answers for a job that is gone or has left the failed state meanwhile. */
const NOT_RETRIABLE = /^(Missing key for job|Job .+ is not in the failed state)/;

/**
 * Retries one failed job with a fresh attempt budget (a job that failed after a day of
 * Postgres outage gets another day). False when it is not a failed job (any more). With its
 * attempts reset the worker no longer knows the job ran before, and stores its hits with the
 * plain insert: a hit stored already fails that statement, which runs again skipping it
 * (apps/worker/src/hit-writer.ts), so a replay never stores or counts a hit twice.
 */
const retryOne = async (queues: HitQueues, jobId: string): Promise<boolean> => {
  const found = queues.locate(jobId);
  if (found === undefined) return false;
  const job = await found.shard.getJob(found.id);
  if (job === undefined || (await job.getState()) !== "failed") return false;
  try {
    await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  } catch (error) {
    if (error instanceof Error && NOT_RETRIABLE.test(error.message)) return false;
    throw error;
  }
};

/**
 * GET /api/ops/queue/failed and POST /api/ops/queue/retry: the failed hit jobs (a poison
 * payload, or a day of retries exhausted) and their replay. Admin, from the allowlist.
 */
export const queueRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const queues = app.hitQueues;
  // Before validation: a stranger gets 401 and a client 403, never a 400.
  app.addHook("onRequest", requireBearer);
  app.addHook("onRequest", requireAdmin);

  app.get(
    "/ops/queue/failed",
    {
      schema: {
        tags: TAGS,
        summary: "Failed hit jobs, newest failure first: id, reason, attempts, hit count (no payload) (admin)",
        security: SECURITY,
        querystring: FailedJobsQuery,
        response: { 200: FailedJobs, ...errors(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 20;
      // The newest `limit` of each shard, merged: the newest `limit` of all.
      const perShard = await Promise.all(
        queues.shards.map(async (shard) => {
          const [count, jobs] = await Promise.all([shard.getFailedCount(), shard.getFailed(0, limit - 1)]);
          return {
            count,
            failed: (jobs as Array<Job<HitBatchJob> | undefined>).flatMap((job) => (job === undefined ? [] : [{ shard, job }])),
          };
        }),
      );
      const newest = perShard
        .flatMap(({ failed }) => failed)
        .sort((a, b) => (b.job.finishedOn ?? 0) - (a.job.finishedOn ?? 0))
        .slice(0, limit);
      return {
        total: perShard.reduce((sum, { count }) => sum + count, 0),
        data: newest.map(({ shard, job }) => describe(queues, shard, job)),
      };
    },
  );

  app.post(
    "/ops/queue/retry",
    {
      // No body: every failed job, like `{}`.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
      schema: {
        tags: TAGS,
        summary: "Move failed hit jobs back to waiting, with a fresh attempt budget: the given ids, or every failed one (admin)",
        security: SECURITY,
        body: QueueRetryBody,
        response: { 200: QueueRetried, ...errors(400, 401, 403, 413, 415, 503) },
      },
    },
    async (request) => {
      // "All" is the failed set as it stands now: a job that fails again meanwhile waits for the next call.
      const ids =
        request.body.ids ??
        (
          await Promise.all(
            queues.shards.map(async (shard) => (await shard.getRanges(["failed"], 0, -1)).map((id) => queues.jobId(shard, id))),
          )
        ).flat();
      const notFailed: string[] = [];
      let retried = 0;
      for (let start = 0; start < ids.length; start += RETRY_CONCURRENCY) {
        const chunk = ids.slice(start, start + RETRY_CONCURRENCY);
        const outcomes = await Promise.all(chunk.map((id) => retryOne(queues, id)));
        outcomes.forEach((ok, i) => {
          if (ok) retried += 1;
          else if (request.body.ids !== undefined) notFailed.push(chunk[i] as string);
        });
      }
      request.log.info({ retried, notFailed: notFailed.length }, "failed hit jobs retried");
      return { retried, not_failed: notFailed };
    },
  );
};
