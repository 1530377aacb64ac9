import { type DefaultJobOptions, Queue } from "bullmq";
import { type Static, Type } from "typebox";
import { Compile } from "typebox/compile";
import type { Keys } from "./keys.ts";
import { listenForErrors, QUEUES, type QueueErrorListener, queuePlace } from "./queue.ts";
import type { RedisConnection } from "./redis.ts";

/** The export queue's one job: which export to write. Its state lives in Postgres (`exports`). */
export const EXPORT_JOB = "export" as const;

export const ExportJob = Type.Object({ v: Type.Literal(1), export_id: Type.String({ format: "uuid" }) });
export type ExportJob = Static<typeof ExportJob>;
export const exportJobValidator = Compile(ExportJob);

/**
 * One job per export (jobId = export_id, so a repeated add is a no-op). A worker killed
 * mid-export leaves the job stalled; it runs again and resumes after the last committed chunk.
 */
export const EXPORT_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 5,
  backoff: { type: "exponential", delay: 1_000 },
  removeOnComplete: { age: 24 * 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

export const createExportQueue = (connection: RedisConnection, keys: Keys, onError?: QueueErrorListener): Queue<ExportJob> =>
  listenForErrors(
    new Queue<ExportJob>(QUEUES.exports, {
      connection,
      prefix: queuePlace(keys, QUEUES.exports).prefix,
      defaultJobOptions: EXPORT_JOB_OPTIONS,
    }),
    onError,
  );

/** Enqueues an export's job; safe to call twice for the same export. */
export const enqueueExport = (queue: Queue<ExportJob>, exportId: string): Promise<unknown> =>
  queue.add(EXPORT_JOB, { v: 1, export_id: exportId }, { jobId: exportId });
