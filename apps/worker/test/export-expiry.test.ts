import { randomUUID } from "node:crypto";
import {
  createExportQueue,
  createKeys,
  createMaintenanceQueue,
  type ExportJob,
  enqueueExport,
  type MaintenanceQueue,
  QUEUES,
  queuePlace,
} from "@usage/store";
import { eventually } from "@usage/testkit";
import { Queue } from "bullmq";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkCount, exportRow } from "./export-helper.ts";
import { startTestWorker, type WorkerHarness } from "./helper.ts";

describe("export expiry (maintenance)", () => {
  let h: WorkerHarness;
  let maintenance: MaintenanceQueue;
  let exportQueue: Queue<ExportJob>;
  beforeAll(async () => {
    h = await startTestWorker();
    maintenance = createMaintenanceQueue(h.redis, createKeys(h.workerConfig.redisPrefix));
    exportQueue = createExportQueue(h.redis, createKeys(h.workerConfig.redisPrefix));
    // The scheduler's first run comes at the worker's start; the next one 15 minutes later.
    // Once it is done, the run added below is the only one that sees the rows of this test.
    await eventually(
      async () => ((await maintenance.getCompleted()).some((job) => job.name === "expire-exports") ? true : undefined),
      20_000,
      "the scheduled first run",
    );
  });
  afterAll(async () => {
    await maintenance?.close();
    await exportQueue?.close();
    await h?.close();
  });

  /** An export row made `createdAgo` ms ago, with two chunks; completed ones expire `expiresIn` ms from now. */
  const exportWithChunks = async (status: string, createdAgo: number, expiresIn?: number): Promise<string> => {
    const exportId = randomUUID();
    await sql`
      INSERT INTO exports (export_id, owner, range_from, range_to, status, created_at, finished_at, expires_at)
      VALUES (${exportId}, 'admin', now() - interval '2 days', now() - interval '1 day', ${status},
              now() - ${createdAgo} * interval '1 millisecond', now() - interval '1 minute',
              ${expiresIn === undefined ? null : sql`now() + ${expiresIn} * interval '1 millisecond'`})`.execute(h.db);
    await sql`
      INSERT INTO export_chunks (export_id, seq, rows, last_ts, last_client_id, last_id, data)
      SELECT ${exportId}, seq, 1, now(), ${randomUUID()}, ${randomUUID()}, '\\x410d0a' FROM generate_series(0, 1) AS seq`.execute(h.db);
    return exportId;
  };

  it("is scheduled every 15 minutes", async () => {
    const schedulers = await maintenance.getJobSchedulers();
    expect(schedulers.find((s) => s.key === "expire-exports")?.every).toBe(15 * 60_000);
  });

  it("removes the files of expired exports, keeps their rows, and deletes rows older than a week", async () => {
    const HOUR = 3_600_000;
    const expired = await exportWithChunks("completed", 25 * HOUR, -HOUR);
    const fresh = await exportWithChunks("completed", 2 * HOUR, 22 * HOUR);
    // Paused, the queue keeps this export's job waiting: a running export with a live job.
    await exportQueue.pause();
    const running = await exportWithChunks("running", HOUR);
    await enqueueExport(exportQueue, running);
    const old = await exportWithChunks("failed", 8 * 24 * HOUR);
    const oldCompleted = await exportWithChunks("completed", 8 * 24 * HOUR, -6 * 24 * HOUR);

    const job = await maintenance.add("expire-exports", {});
    const done = await eventually(
      async () => ((await job.getState()) === "completed" ? maintenance.getJob(job.id as string) : undefined),
      10_000,
      "expire-exports completed",
    );
    expect(done?.returnvalue).toEqual({ expired: 2, deleted: 2, abandoned: 0 });
    await exportQueue.resume();

    expect(await chunkCount(h.db, expired)).toBe(0);
    expect(await exportRow(h.db, expired)).toMatchObject({ status: "completed" });
    expect(await chunkCount(h.db, fresh)).toBe(2);
    expect(await chunkCount(h.db, running)).toBe(2);
    for (const gone of [old, oldCompleted]) {
      expect(await exportRow(h.db, gone)).toBeUndefined();
      expect(await chunkCount(h.db, gone)).toBe(0);
    }
  });

  it("fails an export whose job is gone or failed for good, after a minute's grace, and removes its chunks", async () => {
    const MINUTE = 60_000;
    const lost = await exportWithChunks("running", 5 * MINUTE);
    const failedOut = await exportWithChunks("queued", 5 * MINUTE);
    // A job failed for good without its row knowing, as one that stalled more often than
    // allowed is left: here one the worker refuses at once.
    const refused = new Queue(QUEUES.exports, {
      connection: h.redis,
      prefix: queuePlace(createKeys(h.workerConfig.redisPrefix), QUEUES.exports).prefix,
    });
    await refused.add("not-an-export", {}, { jobId: failedOut });
    await eventually(async () => ((await refused.getJobState(failedOut)) === "failed" ? true : undefined), 10_000, "the job failed");
    await refused.close();
    await exportQueue.pause();
    const young = await exportWithChunks("running", 10_000);

    const sweep = await maintenance.add("expire-exports", {});
    const done = await eventually(
      async () => ((await sweep.getState()) === "completed" ? maintenance.getJob(sweep.id as string) : undefined),
      10_000,
      "expire-exports completed",
    );
    await exportQueue.resume();
    expect(done?.returnvalue).toMatchObject({ abandoned: 2 });
    for (const gone of [lost, failedOut]) {
      expect(await exportRow(h.db, gone)).toMatchObject({ status: "failed", error: "the export could not be written" });
      expect(await chunkCount(h.db, gone)).toBe(0);
    }
    expect(await exportRow(h.db, young)).toMatchObject({ status: "running" });
    expect(await chunkCount(h.db, young)).toBe(2);
  });
});
