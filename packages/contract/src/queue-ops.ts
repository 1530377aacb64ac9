import { type Static, Type } from "typebox";
import { DateTime } from "./common.ts";

/** BullMQ job ids: the queue's counter ("1234") or an id the producer chose; never a path. */
const JobId = Type.String({ minLength: 1, maxLength: 128, pattern: "^[\\w.:-]+$", description: "A hit job's id" });

export const FailedJobsQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) },
  { additionalProperties: false },
);
export type FailedJobsQuery = Static<typeof FailedJobsQuery>;

/** A failed hit job, without its payload: the hits' fields stay in Redis. */
export const FailedJob = Type.Object({
  id: JobId,
  failed_reason: Type.String({ description: "The last error's message, at most 500 characters" }),
  attempts_made: Type.Integer({ minimum: 0 }),
  hits: Type.Integer({ minimum: 0, description: "How many hits the job carries (0 when its payload is not a hit batch)" }),
  created_at: DateTime,
  failed_at: Type.Union([DateTime, Type.Null()]),
});
export type FailedJob = Static<typeof FailedJob>;

export const FailedJobs = Type.Object({
  total: Type.Integer({ minimum: 0, description: "Failed hit jobs in the queue (failed jobs are kept 7 days)" }),
  data: Type.Array(FailedJob, { description: "Newest failure first, at most `limit`" }),
});
export type FailedJobs = Static<typeof FailedJobs>;

export const QueueRetryBody = Type.Object(
  {
    ids: Type.Optional(
      Type.Array(JobId, { minItems: 1, maxItems: 1000, uniqueItems: true, description: "These jobs only; absent: every failed hit job" }),
    ),
  },
  { additionalProperties: false },
);
export type QueueRetryBody = Static<typeof QueueRetryBody>;

export const QueueRetried = Type.Object({
  retried: Type.Integer({ minimum: 0, description: "Jobs moved from failed back to waiting" }),
  not_failed: Type.Array(Type.String(), { description: "Given ids that are not failed hit jobs (unknown, or in another state)" }),
});
export type QueueRetried = Static<typeof QueueRetried>;
