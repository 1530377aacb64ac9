import { randomUUID } from "node:crypto";
import { createKeys, createMaintenanceQueue, type MaintenanceQueue } from "@usage/store";
import { eventually } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkCount, exportRow } from "./export-helper.ts";
import { startTestWorker, type WorkerHarness } from "./helper.ts";

describe("export expiry (maintenance)", () => {
  let h: WorkerHarness;
  let maintenance: MaintenanceQueue;
  beforeAll(async () => {
    h = await startTestWorker();
    maintenance = createMaintenanceQueue(h.redis, createKeys(h.workerConfig.redisPrefix));
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
    const running = await exportWithChunks("running", HOUR);
    const old = await exportWithChunks("failed", 8 * 24 * HOUR);
    const oldCompleted = await exportWithChunks("completed", 8 * 24 * HOUR, -6 * 24 * HOUR);

    const job = await maintenance.add("expire-exports", {});
    const done = await eventually(
      async () => ((await job.getState()) === "completed" ? maintenance.getJob(job.id as string) : undefined),
      10_000,
      "expire-exports completed",
    );
    expect(done?.returnvalue).toEqual({ expired: 2, deleted: 2 });

    expect(await chunkCount(h.db, expired)).toBe(0);
    expect(await exportRow(h.db, expired)).toMatchObject({ status: "completed" });
    expect(await chunkCount(h.db, fresh)).toBe(2);
    expect(await chunkCount(h.db, running)).toBe(2);
    for (const gone of [old, oldCompleted]) {
      expect(await exportRow(h.db, gone)).toBeUndefined();
      expect(await chunkCount(h.db, gone)).toBe(0);
    }
  });
});
