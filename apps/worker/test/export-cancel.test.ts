import { withDefaultUser } from "@usage/db";
import { createExportQueue, createKeys, type ExportJob, enqueueExport } from "@usage/store";
import { eventually } from "@usage/testkit";
import type { Queue } from "bullmq";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedBulkHits } from "./export-data.ts";
import { chunkCount, exportRow, insertExport } from "./export-helper.ts";
import { startTestWorker, type WorkerHarness } from "./helper.ts";

/** What the contract allows between a cancel and the worker having stopped. */
const CANCEL_WITHIN_MS = 2_000;

describe("cancelling a running export", () => {
  let h: WorkerHarness;
  let queue: Queue<ExportJob>;
  let range: { from: string; to: string };
  beforeAll(async () => {
    // The smallest chunks: the export commits often and lasts long enough to be caught mid-way.
    h = await startTestWorker({ WORKER_EXPORT_CHUNK_BYTES: "4096" });
    queue = createExportQueue(h.redis, createKeys(h.workerConfig.redisPrefix));
    range = await seedBulkHits(h.db, 60_000);
  }, 120_000);
  afterAll(async () => {
    await queue?.close();
    await h?.close();
  });

  const cancel = (exportId: string) =>
    sql`UPDATE exports SET status = 'cancelled', finished_at = now() WHERE export_id = ${exportId} AND status IN ('queued', 'running')`.execute(
      h.db,
    );
  /** The export's COPY or count, still on the server (the test database only). */
  const exportBackends = async (): Promise<number> => {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'usage-export' AND state <> 'idle'`.execute(h.db);
    return rows[0]?.n ?? 0;
  };
  /** Resolves once the job ended cancelled, nothing of the file is left and its statement is gone. */
  const stopped = (exportId: string) =>
    eventually(
      async () => {
        // The state first, then the job: a job read before it completed has no returnvalue yet.
        const state = await queue.getJobState(exportId);
        // Kept as the last error, so a timeout says why the job ended otherwise.
        if (state === "failed") throw new Error(`the job failed: ${(await queue.getJob(exportId))?.failedReason}`);
        if (state !== "completed") return undefined;
        if ((await chunkCount(h.db, exportId)) !== 0 || (await exportBackends()) !== 0) return undefined;
        return queue.getJob(exportId);
      },
      CANCEL_WITHIN_MS,
      "the export stopped and its chunks removed",
    );

  it("stops within 2 s of a cancel while rows stream, and removes what it wrote", async () => {
    const exportId = await insertExport(h.db, range);
    await enqueueExport(queue, exportId);
    // The count runs beside the rows: the cancel waits for it, so the row's total is known.
    await eventually(
      async () => ((await chunkCount(h.db, exportId)) >= 20 && (await exportRow(h.db, exportId))?.total != null ? true : undefined),
      20_000,
      "20 chunks and the count",
    );
    expect((await exportRow(h.db, exportId))?.status).toBe("running");
    await cancel(exportId);
    const job = await stopped(exportId);
    expect(job.returnvalue).toMatchObject({ outcome: "cancelled" });
    const row = await exportRow(h.db, exportId);
    expect(row).toMatchObject({ status: "cancelled", total: 60_000 });
    expect(row?.processed).toBeLessThan(60_000);
  });

  it("stops within 2 s while its COPY has not sent a row yet", async () => {
    // The table locked by another session: the COPY waits without sending anything. The row
    // has its count already (as on a resume), so the wait is the COPY's, not the count's.
    const locker = new pg.Client({ connectionString: withDefaultUser(h.workerConfig.databaseUrl) });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE hits IN ACCESS EXCLUSIVE MODE");
      const exportId = await insertExport(h.db, { ...range, total: 60_000 });
      await enqueueExport(queue, exportId);
      await eventually(
        async () => {
          const { rows } = await sql<{ n: number }>`
            SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE application_name = 'usage-export' AND wait_event_type = 'Lock' AND query LIKE 'COPY%'`.execute(h.db);
          return (rows[0]?.n ?? 0) >= 1 ? true : undefined;
        },
        20_000,
        "the COPY waiting",
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await cancel(exportId);
      const job = await stopped(exportId);
      expect(job.returnvalue).toMatchObject({ outcome: "cancelled" });
      expect((await exportRow(h.db, exportId))?.status).toBe("cancelled");
    } finally {
      await locker.query("ROLLBACK").catch(() => {});
      await locker.end();
    }
  });
});
