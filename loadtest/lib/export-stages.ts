import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { type Db, withDefaultUser } from "@usage/db";
import { type ExportJob, enqueueExport, MAINTENANCE_JOB_NAMES, type MaintenanceQueue } from "@usage/store";
import { eventually } from "@usage/testkit";
import { EXPORT_COLUMNS, EXPORT_ORDER, EXPORT_WORK_MEM } from "@usage/worker/export-sql";
import type { Queue } from "bullmq";
import { sql } from "kysely";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { memoryOf, sampleMemory } from "./proc-stats.ts";

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const line = (text: string): void => void process.stderr.write(`  ${text}\n`);

/**
 * The floor: the same columns in the same order, one COPY over the whole range, streamed to
 * /dev/null, on a connection with the export's session settings.
 */
export const rawCopy = async (databaseUrl: string, from: string, to: string): Promise<{ rows: number; seconds: number; bytes: number }> => {
  const client = new pg.Client({
    connectionString: withDefaultUser(databaseUrl),
    options: `-c TimeZone=UTC -c work_mem=${EXPORT_WORK_MEM}`,
  });
  await client.connect();
  try {
    const range = `ts >= ${pg.escapeLiteral(from)}::timestamptz AND ts < ${pg.escapeLiteral(to)}::timestamptz`;
    const stream = client.query(
      copyTo(`COPY (SELECT ${EXPORT_COLUMNS} FROM hits WHERE ${range} ORDER BY ${EXPORT_ORDER}) TO STDOUT (FORMAT csv)`),
    );
    let bytes = 0;
    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    const progress = setInterval(() => line(`raw COPY: ${fmt(bytes / 1_048_576)} MiB streamed`), 2_000);
    const started = performance.now();
    try {
      await pipeline(stream, createWriteStream("/dev/null"));
    } finally {
      clearInterval(progress);
    }
    return { rows: stream.rowCount, seconds: (performance.now() - started) / 1000, bytes };
  } finally {
    await client.end();
  }
};

/**
 * Waits until the worker consumes exports and its start-up maintenance is done (the
 * reconciler walks every seeded client): the export is timed from its enqueue, not the
 * worker's start.
 */
export const consumersIdle = async (exportQueue: Queue<ExportJob>, maintenanceQueue: MaintenanceQueue): Promise<void> => {
  await eventually(async () => ((await exportQueue.getWorkersCount()) > 0 ? true : undefined), 30_000, "export consumer");
  await eventually(
    async () => {
      const counts = await maintenanceQueue.getJobCounts("completed", "active", "waiting");
      return (counts.completed ?? 0) >= MAINTENANCE_JOB_NAMES.length && counts.active === 0 && counts.waiting === 0 ? true : undefined;
    },
    120_000,
    "start-up maintenance",
  );
};

/** Inserts an export's row as the gateway does (queued, admin, every client) and enqueues its job. */
export const createExport = async (db: Db, queue: Queue<ExportJob>, from: string, to: string): Promise<string> => {
  const exportId = randomUUID();
  await sql`INSERT INTO exports (export_id, owner, client_id, range_from, range_to) VALUES (${exportId}, 'bench', NULL, ${from}::timestamptz, ${to}::timestamptz)`.execute(
    db,
  );
  await enqueueExport(queue, exportId);
  return exportId;
};

export const exportState = async (db: Db, exportId: string) =>
  db.selectFrom("exports").select(["status", "processed", "total", "bytes"]).where("export_id", "=", exportId).executeTakeFirstOrThrow();

export interface ExportTiming {
  rows: number;
  bytes: number;
  seconds: number;
  /** started_at → finished_at as the worker wrote them: the run without the queue's pickup. */
  runSeconds: number;
  /** The worker's resident set every 200 ms, in MB. */
  rss: number[];
  peakMb: number;
}

/** Enqueue → completed, with the worker's memory sampled every 200 ms and a progress line every 2 s. */
export const timeExport = async (
  db: Db,
  queue: Queue<ExportJob>,
  workerPid: number | undefined,
  from: string,
  to: string,
): Promise<ExportTiming> => {
  const sampler = sampleMemory({ worker: workerPid }, 200);
  const started = performance.now();
  const exportId = await createExport(db, queue, from, to);
  let lastLine = started;
  for (;;) {
    const state = await exportState(db, exportId);
    if (state.status === "completed") break;
    if (state.status !== "queued" && state.status !== "running") throw new Error(`export ended ${state.status}`);
    if (performance.now() - lastLine >= 2_000) {
      lastLine = performance.now();
      const seconds = (lastLine - started) / 1000;
      const pct = state.total ? ((100 * state.processed) / state.total).toFixed(1) : "--";
      line(
        `export: ${state.status}, ${pct}% ${fmt(state.processed)}/${state.total === null ? "counting" : fmt(state.total)} rows, ${fmt(state.processed / seconds)} rows/s, worker RSS ${fmt(memoryOf(workerPid).rssMb)} MB`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const samples = sampler.stop();
  const done = await exportState(db, exportId);
  const { rows } = await sql<{
    s: number;
  }>`SELECT extract(epoch FROM finished_at - started_at)::float8 AS s FROM exports WHERE export_id = ${exportId}`.execute(db);
  // The bench's file is not kept: 10M rows are about a gigabyte in export_chunks.
  await sql`DELETE FROM exports WHERE export_id = ${exportId}`.execute(db);
  return {
    rows: done.processed,
    bytes: done.bytes,
    seconds,
    runSeconds: rows[0]?.s ?? 0,
    rss: samples.map((s) => s.worker ?? 0),
    peakMb: memoryOf(workerPid).peakMb,
  };
};
