import { randomUUID } from "node:crypto";
import { createExportQueue, createKeys, type ExportJob, enqueueExport } from "@usage/store";
import { eventually, expectedRows, HOSTILE, parseCsv } from "@usage/testkit";
import type { Job, Queue } from "bullmq";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { at, type HostileData, HUGE_ENDPOINT, seedHostileHits } from "./export-data.ts";
import { chunkCount, exportRow, insertExport, readExport } from "./export-helper.ts";
import { startTestWorker, type WorkerHarness } from "./helper.ts";

describe("export job on a real queue and database", () => {
  let h: WorkerHarness;
  let queue: Queue<ExportJob>;
  let data: HostileData;
  beforeAll(async () => {
    // Small chunks: the file of a few thousand rows spans many, and the huge endpoint outgrows one.
    h = await startTestWorker({ WORKER_EXPORT_CHUNK_BYTES: "16384" });
    queue = createExportQueue(h.redis, createKeys(h.workerConfig.redisPrefix));
    data = await seedHostileHits(h.db);
  }, 120_000);
  afterAll(async () => {
    await queue?.close();
    await h?.close();
  });

  const settled = async (exportId: string): Promise<Job> => {
    await enqueueExport(queue, exportId);
    return eventually(
      async () => {
        // The state first, then the job: a job read before it ended has no outcome yet.
        const state = await queue.getJobState(exportId);
        return state === "completed" || state === "failed" ? queue.getJob(exportId) : undefined;
      },
      30_000,
      `export ${exportId} settled`,
    );
  };

  it("writes every hit of the range oldest first, RFC 4180, endpoints verbatim, nulls as empty fields", async () => {
    const exportId = await insertExport(h.db, { from: data.from, to: data.to });
    const job = await settled(exportId);
    expect(job.returnvalue).toMatchObject({ outcome: "completed" });
    const { text, chunks } = await readExport(h.db, exportId);
    const rows = parseCsv(text);
    const expected = await expectedRows(h.db, data.from, data.to);
    expect(expected).toHaveLength(data.hits.length);
    expect(rows.length).toBe(expected.length);
    expect(rows).toEqual(expected);
    // Verbatim, whatever the CSV had to do to carry them.
    const endpoints = new Set(rows.map((row) => row[4]));
    for (const endpoint of [...HOSTILE, HUGE_ENDPOINT]) expect(endpoints.has(endpoint)).toBe(true);
    expect(rows.some((row) => row[5] === null) && rows.some((row) => row[5] === "") && rows.some((row) => row[6] === null)).toBe(true);
    expect(chunks).toBeGreaterThan(10);

    const row = await exportRow(h.db, exportId);
    expect(row).toMatchObject({ status: "completed", total: expected.length, processed: expected.length, bytes: Buffer.byteLength(text) });
    expect((row?.expires_at?.getTime() ?? 0) - (row?.finished_at?.getTime() ?? 0)).toBe(24 * 3_600_000);
    expect(row?.started_at).not.toBeNull();
  });

  it("exports one client's hits only", async () => {
    const client = data.clients[2] as string;
    const exportId = await insertExport(h.db, { from: data.from, to: data.to, clientId: client });
    await settled(exportId);
    const rows = parseCsv((await readExport(h.db, exportId)).text);
    expect(rows).toEqual(await expectedRows(h.db, data.from, data.to, client));
    expect(rows.length).toBeGreaterThan(500);
    expect(rows.every((row) => row[1] === client)).toBe(true);
  });

  it("includes `from` and excludes `to`, to the microsecond", async () => {
    const sorted = [...new Set(data.hits.map((hit) => hit.ts))].sort();
    const from = sorted[100] as string;
    const to = sorted[200] as string;
    const exportId = await insertExport(h.db, { from, to });
    await settled(exportId);
    const rows = parseCsv((await readExport(h.db, exportId)).text);
    expect(rows).toEqual(await expectedRows(h.db, from, to));
    expect(rows[0]?.[2]).toBe(from);
    expect(rows.some((row) => row[2] === to)).toBe(false);
    expect(new Set(rows.map((row) => row[2])).size).toBe(100);
  });

  it("completes an empty range with total 0 and no chunks", async () => {
    const from = at(data.boundary + 5 * 86_400_000);
    const exportId = await insertExport(h.db, { from, to: at(data.boundary + 6 * 86_400_000) });
    const job = await settled(exportId);
    expect(job.returnvalue).toEqual({ outcome: "completed", rows: 0, bytes: 0 });
    expect(await exportRow(h.db, exportId)).toMatchObject({ status: "completed", total: 0, processed: 0, bytes: 0 });
    expect(await chunkCount(h.db, exportId)).toBe(0);
  });

  it("resumes after the last committed chunk of an earlier run: the same file, byte for byte", async () => {
    const whole = await insertExport(h.db, { from: data.from, to: data.to });
    await settled(whole);
    const file = (await readExport(h.db, whole)).text;
    const chunks = await chunkCount(h.db, whole);
    // Cut in each window: a resume key in the first week, then in the second.
    for (const kept of [3, chunks - 3]) {
      const resumed = await insertExport(h.db, { from: data.from, to: data.to, status: "running", total: 1 });
      await sql`
        INSERT INTO export_chunks (export_id, seq, rows, last_ts, last_client_id, last_id, data)
        SELECT ${resumed}, seq, rows, last_ts, last_client_id, last_id, data FROM export_chunks
        WHERE export_id = ${whole} AND seq < ${kept}`.execute(h.db);
      const job = await settled(resumed);
      // With the failure's reason beside it, so a failed job says why in the diff.
      expect({ value: job.returnvalue, failedReason: job.failedReason }).toMatchObject({ value: { outcome: "completed" } });
      expect((await readExport(h.db, resumed)).text === file).toBe(true);
      // The count is kept from the first run; on completion it becomes what the file holds.
      expect(await exportRow(h.db, resumed)).toMatchObject({ total: data.hits.length, processed: data.hits.length });
    }
  });

  it("leaves a cancelled export alone and removes any chunk it had", async () => {
    const exportId = await insertExport(h.db, { from: data.from, to: data.to, status: "running" });
    await sql`INSERT INTO export_chunks (export_id, seq, rows, last_ts, last_client_id, last_id, data)
      VALUES (${exportId}, 0, 1, now(), ${randomUUID()}, ${randomUUID()}, '\\x41')`.execute(h.db);
    await sql`UPDATE exports SET status = 'cancelled', finished_at = now() WHERE export_id = ${exportId}`.execute(h.db);
    const job = await settled(exportId);
    expect(job.returnvalue).toMatchObject({ outcome: "cancelled" });
    expect(await exportRow(h.db, exportId)).toMatchObject({ status: "cancelled", processed: 0 });
    expect(await chunkCount(h.db, exportId)).toBe(0);
  });

  it("fails at once, without retries, when the export's row is missing", async () => {
    const job = await settled(randomUUID());
    expect(await job.getState()).toBe("failed");
    expect(job.failedReason).toBe("export not found");
    expect(job.attemptsMade).toBe(1);
  });
});
