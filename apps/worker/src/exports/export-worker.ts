import type { Logger, WorkerConfig } from "@usage/core";
import { type Db, type ExportStore, failExportRun } from "@usage/db";
import { closeAfterStart, EXPORT_JOB, exportJobValidator, QUEUES, type RedisConnection } from "@usage/store";
import { type Job, UnrecoverableError, WaitingError, Worker } from "bullmq";
import { ExportFailure, type ExportResult, runExport } from "./export-run.ts";
import type { ExportPacer } from "./ingest-pacer.ts";

/** What the export row says when the job gave up on an error it does not name. */
export const GENERIC_FAILURE = "the export could not be written";

export interface ExportWorkerDeps {
  config: Readonly<WorkerConfig>;
  connection: RedisConnection;
  prefix: string;
  db: Db;
  store: ExportStore;
  pacer: ExportPacer;
  log: Logger;
}

/**
 * The export queue's consumer, apart from the hit consumer (its own concurrency, its own
 * lock): an export runs for minutes, hit jobs for milliseconds, and neither waits for the other.
 */
export const startExportWorker = ({ config, connection, prefix, db, store, pacer, log }: ExportWorkerDeps) => {
  const shutdown = new AbortController();
  const processor = async (job: Job<unknown, ExportResult, string>, token?: string): Promise<ExportResult> => {
    if (job.name !== EXPORT_JOB || !exportJobValidator.Check(job.data)) throw new UnrecoverableError("invalid export job");
    const exportId = job.data.export_id;
    const jobLog = log.child({ job: EXPORT_JOB, jobId: job.id, exportId });
    let result: ExportResult;
    try {
      result = await runExport(
        {
          db,
          store,
          pacer,
          databaseUrl: config.databaseUrl,
          chunkBytes: config.exportChunkBytes,
          log: jobLog,
          shutdown: shutdown.signal,
        },
        exportId,
      );
    } catch (error) {
      const attempt = job.attemptsMade + 1;
      // A transient error (Postgres away, a lost connection) is retried with backoff; the
      // export stays running and the next attempt resumes after its last committed chunk.
      if (!(error instanceof ExportFailure) && attempt < (job.opts.attempts ?? 1)) {
        jobLog.warn({ err: error, attempt }, "export attempt failed, will retry");
        throw error;
      }
      const message = error instanceof ExportFailure ? error.message : GENERIC_FAILURE;
      jobLog.error({ err: error, attempt }, "export failed");
      await failExportRun(db, exportId, message).catch((cause: unknown) => jobLog.warn({ err: cause }, "could not mark the export failed"));
      await store.remove(exportId).catch((cause: unknown) => jobLog.warn({ err: cause }, "could not remove a failed export's chunks"));
      throw new UnrecoverableError(message);
    }
    if (result.outcome === "interrupted") {
      // Stopping: back to wait at once (no attempt spent, no lock to lapse), resumed by the next worker.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    return result;
  };

  const worker = new Worker<unknown, ExportResult, string>(QUEUES.exports, processor, {
    connection,
    prefix,
    concurrency: config.exportConcurrency,
    // The lock of a killed worker's export lapses after this; stalls are checked every half
    // of it, so the export runs again within about 1.5 × the lock and resumes.
    lockDuration: config.exportLockMs,
    stalledInterval: Math.round(config.exportLockMs / 2),
    // A stall is a dead worker, not a poison job: survive many kills before giving up.
    maxStalledCount: 50,
  });
  let closing: Promise<void> | undefined;
  return {
    worker,
    /** Idempotent: running exports stop after their chunk in flight and go back to wait. */
    close(): Promise<void> {
      closing ??= (async () => {
        shutdown.abort();
        await closeAfterStart(worker);
      })();
      return closing;
    },
  };
};
