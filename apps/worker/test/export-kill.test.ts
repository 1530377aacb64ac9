import { createExportQueue, createKeys, type ExportJob, enqueueExport } from "@usage/store";
import { createTestEnv, eventually, expectedRows, parseCsv, spawnWorker, type TestEnv } from "@usage/testkit";
import type { Queue } from "bullmq";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedBulkHits } from "./export-data.ts";
import { chunkCount, exportRow, insertExport, readExport } from "./export-helper.ts";

const ROWS = 200_000;

describe("an export whose worker is SIGKILLed", () => {
  let env: TestEnv;
  let queue: Queue<ExportJob>;
  let range: { from: string; to: string };
  const workers: Array<ReturnType<typeof spawnWorker>> = [];
  beforeAll(async () => {
    env = await createTestEnv();
    queue = createExportQueue(env.redis, createKeys(env.workerConfig.redisPrefix));
    range = await seedBulkHits(env.db, ROWS);
  }, 120_000);
  afterAll(async () => {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGKILL");
    await queue?.close();
    await env?.cleanup();
  });

  // Small chunks (many commits, so a kill lands between two of them) and a short lock (a
  // killed worker's job runs again within about 3 s).
  const start = () => {
    const worker = spawnWorker({ ...env.env, WORKER_EXPORT_CHUNK_BYTES: "16384", WORKER_EXPORT_LOCK_MS: "2000" });
    workers.push(worker);
    return worker;
  };
  const chunksAtLeast = (exportId: string, n: number) =>
    eventually(async () => ((await chunkCount(env.db, exportId)) >= n ? true : undefined), 60_000, `${n} chunks`);

  it("resumes after its last committed chunk each time: every row once, in order", async () => {
    const exportId = await insertExport(env.db, range);
    await enqueueExport(queue, exportId);
    let worker = start();
    for (const killAt of [50, 150]) {
      await chunksAtLeast(exportId, killAt);
      worker.child.kill("SIGKILL");
      await worker.exited;
      // Killed mid-export: chunks written, the job still active on the dead worker's lock.
      expect((await exportRow(env.db, exportId))?.status).toBe("running");
      worker = start();
    }
    await eventually(
      async () => ((await exportRow(env.db, exportId))?.status === "completed" ? true : undefined),
      120_000,
      "export completed",
    );
    worker.child.kill("SIGTERM");
    await worker.exited;

    const { text } = await readExport(env.db, exportId);
    const rows = parseCsv(text);
    expect(rows.length).toBe(ROWS);
    expect(new Set(rows.map((row) => row[0])).size).toBe(ROWS);
    const expected = await expectedRows(env.db, range.from, range.to);
    // Compared row by row, so a failure names the first row that differs, not a 200k-row diff.
    const firstDifference = rows.findIndex((row, i) => JSON.stringify(row) !== JSON.stringify(expected[i]));
    expect(firstDifference).toBe(-1);

    const { rows: seqs } = await sql<{ n: number; max: number; total: number }>`
      SELECT count(*)::int AS n, max(seq) AS max, sum(rows)::int AS total FROM export_chunks WHERE export_id = ${exportId}`.execute(env.db);
    expect(seqs[0]).toEqual({ n: (seqs[0]?.max ?? 0) + 1, max: expect.any(Number), total: ROWS });
    expect(await exportRow(env.db, exportId)).toMatchObject({
      status: "completed",
      total: ROWS,
      processed: ROWS,
      bytes: Buffer.byteLength(text),
    });
  }, 240_000);
});
