import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { createDb } from "@usage/db";
import { createExportQueue, createHitQueues, createKeys, createMaintenanceQueue } from "@usage/store";
import { Redis } from "ioredis";
import { parseCount } from "../scripts/seed/options.ts";
import { type CpuBudget, type CpuParty, cpuTable, measureCpu } from "./lib/cpu-budget.ts";
import { type Proc, serviceSettings, startProcess } from "./lib/env.ts";
import { consumersIdle, rawCopy, timeExport } from "./lib/export-stages.ts";
import { ingestBesideExport } from "./lib/ingest-stage.ts";
import { type Figure, markdownTable, textTable } from "./lib/report.ts";
import { appendExportsSection, ensureSeeded } from "./lib/seeded-db.ts";

/**
 * `pnpm bench:export [--rows 10M] [--database usage_export_bench] [--duration 15] [--no-write]`:
 * (a) a raw COPY of the seeded range to /dev/null, (b) the export job end to end in a real
 * worker process (enqueue → completed) with its memory, (c) hit ingest with and without an
 * export running. Appends the table to docs/benchmarks.md ("Exports").
 */
const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "10M" },
    database: { type: "string", default: "usage_export_bench" },
    duration: { type: "string", default: "15" },
    "no-write": { type: "boolean", default: false },
  },
});
const ROWS = parseCount(values.rows);
const D = Number(values.duration);
if (ROWS === undefined || ROWS < 1 || !(D >= 3) || !/^[a-z_][a-z0-9_]*$/.test(values.database)) {
  process.stderr.write("usage: pnpm bench:export [--rows 10M] [--database usage_export_bench] [--duration SECONDS≥3] [--no-write]\n");
  process.exit(2);
}
const step = (text: string): void => void process.stderr.write(`\n▶ ${text}\n`);
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

step(`seeded database: ${fmt(ROWS)} hits`);
const seeded = await ensureSeeded(values.database, ROWS);
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const redis = new Redis(redisUrl);
/** Removes every key under a prefix: the seed's live counters (no service reads them here), then this run's. */
const unlinkPrefix = async (keyPrefix: string): Promise<void> => {
  const stream = redis.scanStream({ match: `${keyPrefix}:*`, count: 1000 });
  for await (const found of stream as AsyncIterable<string[]>) if (found.length > 0) await redis.unlink(...found);
};
if (!seeded.reused) await unlinkPrefix(`${values.database}_seed`);
const prefix = `bench_export_${Date.now().toString(36)}`;
const spoolDir = `var/bench-spool-${prefix}`;
const settings = { ...serviceSettings(seeded.databaseUrl, redisUrl, prefix, spoolDir), WORKER_METRICS_PORT: "0" };
const db = createDb(seeded.databaseUrl, { max: 2 });
const keys = createKeys(prefix);
const exportQueue = createExportQueue(redis, keys);
// One node, one shard: the service's default there.
const hitQueues = createHitQueues(redis, keys, 1);
const maintenanceQueue = createMaintenanceQueue(redis, keys);
const procs: Proc[] = [];
const figures: Figure[] = [];
/** Where the CPU went in (a) and (b): the COPY's client is this process in (a), the worker in (b). */
const CPU_PARTIES = ["worker", "postgres", "bench process"] as const;
const budgets: Array<{ stage: string; unit: string; work: number; cpu: CpuBudget }> = [];
const parties = (workerPid: number | undefined): CpuParty[] => [
  ...(workerPid === undefined ? [] : [{ name: "worker", pid: workerPid }]),
  { name: "postgres", comm: "postgres" },
  { name: "bench process", pid: process.pid },
];
try {
  step("(a) raw COPY of the range, same columns and order, to /dev/null");
  const { result: raw, cpu: rawCpu } = await measureCpu(parties(undefined), () => rawCopy(seeded.databaseUrl, seeded.from, seeded.to));
  budgets.push({ stage: "raw COPY to /dev/null", unit: "row", work: raw.rows, cpu: rawCpu });
  const rawRate = raw.rows / raw.seconds;
  process.stderr.write(
    `  ${fmt(raw.rows)} rows, ${fmt(raw.bytes / 1_048_576)} MiB in ${raw.seconds.toFixed(1)} s: ${fmt(rawRate)} rows/s\n`,
  );
  figures.push({ what: "raw COPY to /dev/null", scope: "baseline", value: rawRate, unit: "rows/s" });

  step("(b) the export job end to end: a worker process, enqueue → completed");
  const worker = await startProcess(["apps/worker/src/main.ts"], settings, "", false);
  procs.push(worker);
  await consumersIdle(exportQueue, maintenanceQueue);
  const { result: job, cpu: jobCpu } = await measureCpu(parties(worker.child.pid), () =>
    timeExport(db, exportQueue, worker.child.pid, seeded.from, seeded.to),
  );
  budgets.push({ stage: "export job", unit: "row", work: job.rows, cpu: jobCpu });
  if (job.rows !== raw.rows) throw new Error(`the export wrote ${job.rows} rows, the raw COPY ${raw.rows}`);
  const jobRate = job.rows / job.seconds;
  const rssMax = Math.max(...job.rss);
  process.stderr.write(
    `  ${fmt(job.rows)} rows, ${fmt(job.bytes / 1_048_576)} MiB in ${job.seconds.toFixed(1)} s: ${fmt(jobRate)} rows/s (the run itself, started → finished: ${job.runSeconds.toFixed(1)} s)\n`,
  );
  figures.push({
    what: "export job, enqueue → completed",
    scope: "worker alone",
    value: jobRate,
    unit: "rows/s",
    baseline: { what: "raw COPY", value: rawRate },
    target: { min: 0.8, ofBaseline: true },
  });
  figures.push({
    what: "worker RSS during the export, max of 200 ms samples",
    scope: "per process",
    value: rssMax,
    unit: "MB",
    target: { max: 256 },
  });
  figures.push({ what: "worker peak RSS since start (VmHWM)", scope: "per process", value: job.peakMb, unit: "MB", target: { max: 256 } });
  const every = Math.max(1, Math.floor(job.rss.length / 12));
  const series = job.rss.filter((_, i) => i % every === 0).map((mb) => Math.round(mb));

  step(`(c) hit ingest (POST /api/logs/batch ×100, 10 connections, ${D} s), without and then during an export`);
  const gateway = await startProcess(["apps/gateway/src/server.ts"], settings, "/health", false);
  procs.push(gateway);
  const { quiet, during, exportLine } = await ingestBesideExport({
    gatewayBase: gateway.base,
    db,
    hitQueues,
    exportQueue,
    tag: prefix,
    durationS: D,
    range: seeded,
  });
  process.stderr.write(`  ${exportLine}\n`);
  figures.push({ what: "hits accepted/s, no export", scope: "whole system", value: quiet, unit: "hits/s" });
  figures.push({
    what: "hits accepted/s while an export runs",
    scope: "whole system",
    value: during,
    unit: "hits/s",
    baseline: { what: "no export", value: quiet },
    target: { min: 0.8, ofBaseline: true },
  });

  const cpu = cpuTable(budgets, CPU_PARTIES);
  const memory = `worker RSS during the export, MB, every ${(every * 0.2).toFixed(1)} s: ${series.join(", ")}`;
  process.stdout.write(`\n${textTable(figures)}\n\n${memory}\n\nCPU µs per row, by process:\n${cpu}\n`);
  if (!values["no-write"]) {
    appendExportsSection(
      `\`pnpm bench:export --rows ${values.rows} --duration ${D}\``,
      `Database ${values.database} (${seeded.reused ? "reused" : "seeded in this run"}), ${fmt(raw.rows)} rows, ` +
        `${fmt(raw.bytes / 1_048_576)} MiB of CSV. Raw COPY ${raw.seconds.toFixed(1)} s, export job ${job.seconds.toFixed(1)} s ` +
        `(the count of the range included; started → finished ${job.runSeconds.toFixed(1)} s).\n\n${markdownTable(figures)}\n\n` +
        `${memory.replace(/^w/, "W")}.\n\nCPU µs per row, by process (2 cores: at most 2 s of CPU per second):\n\n${cpu}`,
    );
  }
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  await exportQueue.obliterate({ force: true }).catch(() => {});
  for (const shard of hitQueues.shards) await shard.obliterate({ force: true }).catch(() => {});
  await Promise.all([exportQueue.close(), hitQueues.close(), maintenanceQueue.close()]);
  await unlinkPrefix(prefix);
  redis.disconnect();
  rmSync(spoolDir, { recursive: true, force: true });
  await db.destroy();
}
