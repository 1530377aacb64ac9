import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createHitQueues, createKeys } from "@usage/store";
import { call, eventually, freePort } from "@usage/testkit";
import { sql } from "kysely";
import { openCopy } from "./lib/copy.ts";
import { type CpuBudget, type CpuParty, cpuTable, measureCpu } from "./lib/cpu-budget.ts";
import { type BenchEnv, createBenchEnv, type Proc, startProcess } from "./lib/env.ts";
import { load } from "./lib/load.ts";
import { describeMachine } from "./lib/machine.ts";
import { paced, probeInChild } from "./lib/probe.ts";
import { memoryOf, sampleMemory } from "./lib/proc-stats.ts";
import { chartSvg, type Figure, markdownTable, textTable } from "./lib/report.ts";
import { sweepGroupCommit, sweepTable } from "./lib/sweep.ts";

/**
 * `pnpm bench [--duration 10] [--soak 600] [--no-write]`: the ingest and read benchmarks,
 * each beside the baseline measured in the same run, printed as a table (headed by which
 * figures are the gateway alone and which the whole system) and written to
 * docs/benchmarks.md with a chart (docs/benchmarks.svg). --duration: seconds per stage, ≥ 3.
 */
const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    soak: { type: "string", default: "0" },
    "no-write": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    sweep: { type: "boolean", default: false },
  },
});
const D = Number(values.duration);
const SOAK = Number(values.soak);
/**
 * Seconds per stage, at least 3: the read probes time 50 (top) to 100 reads a second, and a
 * shorter stage leaves a p99 too few samples to mean anything.
 */
const MIN_DURATION_S = 3;
if (!(D >= MIN_DURATION_S) || !(SOAK >= 0)) {
  process.stderr.write(
    `pnpm bench: --duration is seconds per stage, at least ${MIN_DURATION_S} (got ${values.duration}); --soak is seconds, 0 or more (got ${values.soak})\n` +
      `usage: pnpm bench [--duration SECONDS≥${MIN_DURATION_S}] [--soak SECONDS] [--sweep] [--no-write] [--keep]\n`,
  );
  process.exit(2);
}
const step = (text: string): void => void process.stderr.write(`\n▶ ${text}\n`);

const hitBody = (): Record<string, unknown> => ({
  ip: "203.0.113.7",
  endpoint: "/v1/things",
  timestamp: new Date().toISOString(),
  method: "GET",
  status: 200,
});
const single = (keys: string[]) => keys.map((key) => ({ body: JSON.stringify(hitBody()), headers: { "x-api-key": key } }));
const batch = (keys: string[], size: number) =>
  keys.map((key) => ({ body: JSON.stringify({ hits: Array.from({ length: size }, hitBody) }), headers: { "x-api-key": key } }));

/**
 * Hits committed by the worker, read from the daily rollup (updated in the same statement
 * as the rows): polling count(*) over millions of rows took a third of a core from the very
 * Postgres being measured.
 */
const committedHits = async (env: BenchEnv): Promise<number> => {
  const { rows } = await sql<{ n: string }>`SELECT coalesce(sum(total), 0) AS n FROM usage_daily`.execute(env.db);
  return Number(rows[0]?.n ?? 0);
};

/** A quantile of a Prometheus summary, in ms; `labels` as they follow `quantile` (prom-client's order). */
const scrapeQuantile = async (metricsUrl: string, name: string, quantile: string, labels = ""): Promise<number> => {
  const text = await (await fetch(metricsUrl)).text();
  const escaped = `${name}{quantile="${quantile}"${labels}}`.replace(/[{}.]/g, "\\$&");
  return Number(new RegExp(`${escaped} ([0-9.e+-]+)`).exec(text)?.[1] ?? Number.NaN) * 1000;
};

const env = await createBenchEnv(values.keep);
const procs: Proc[] = [];
const figures: Figure[] = [];

/** Where the machine's CPU went in each throughput stage (see lib/cpu-budget.ts). */
const CPU_PARTIES = ["baseline server", "gateway", "worker", "redis", "postgres", "load generator"] as const;
const budgets: Array<{ stage: string; unit: string; work: number; cpu: CpuBudget }> = [];
const cpuOf = async <T>(
  ours: Partial<Record<(typeof CPU_PARTIES)[number], Proc>>,
  stage: () => Promise<T>,
): Promise<{ result: T; cpu: CpuBudget }> => {
  const parties: CpuParty[] = [
    ...Object.entries(ours).map(([name, proc]) => ({ name, pid: proc?.child.pid })),
    { name: "redis", comm: "redis-server" },
    { name: "postgres", comm: "postgres" },
    // autocannon and the COPY client run in this process
    { name: "load generator", pid: process.pid },
  ];
  return measureCpu(parties, stage);
};
try {
  step("starting the gateway and registering 50 clients");
  const gateway = await startProcess(["apps/gateway/src/server.ts"], env.settings, "/health", false);
  procs.push(gateway);
  const clients = await Promise.all(
    Array.from(
      { length: 50 },
      async (_, i) =>
        (await call(gateway.base, "POST", "/api/register", { name: `bench-${i}`, email: `bench-${i}-${Date.now()}@example.com` })).body,
    ),
  );
  const keys = clients.map((c) => c.api_key as string);
  const tokens = await Promise.all(
    keys
      .slice(0, 10)
      .map(
        async (key) => (await call(gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": key })).body.access_token as string,
      ),
  );
  const adminToken = (await call(gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": env.settings.ADMIN_API_KEY as string }))
    .body.access_token as string;

  /**
   * The usage reads and /health, each timed one by one at a fixed rate from a process of its
   * own. /health does no I/O: its tail is what scheduling alone costs a request here.
   */
  const readProbes = async (seconds: number) => {
    const [daily, top, health] = await Promise.all([
      probeInChild(`${gateway.base}/api/usage/daily`, `Bearer ${tokens[0]}`, 100, seconds),
      probeInChild(`${gateway.base}/api/usage/top`, `Bearer ${adminToken}`, 50, seconds),
      probeInChild(`${gateway.base}/health`, "", 100, seconds),
    ]);
    return { daily, top, health };
  };

  step("reads on the quiet machine: nothing ingesting");
  const quiet = await readProbes(Math.min(D, 5));

  const baseline = async (mode: string): Promise<number> => {
    const server = await startProcess(["loadtest/baselines/server.ts", mode], env.settings, "/api/logs", true);
    try {
      const { result, cpu } = await cpuOf({ "baseline server": server, gateway }, () =>
        load({ url: `${server.base}/api/logs`, variants: single(keys), durationS: D, title: `baseline: ${mode}` }),
      );
      budgets.push({ stage: `baseline: ${mode}`, unit: "request", work: result.ok, cpu });
      return result.requestsPerSec;
    } finally {
      await server.stop();
    }
  };

  step("baselines: bare Fastify route (same schema, no I/O), INSERT per hit, BullMQ job per hit");
  const bare = await baseline("bare");
  const insert = await baseline("insert");
  const bullmq = await baseline("bullmq");
  figures.push({ what: "bare Fastify route, same schema, no I/O (ceiling)", scope: "baseline", value: bare, unit: "req/s" });
  figures.push({
    what: "naive: one INSERT per hit",
    scope: "baseline",
    value: insert,
    unit: "req/s",
    baseline: { what: "bare", value: bare },
  });
  figures.push({
    what: "naive: one BullMQ job per hit",
    scope: "baseline",
    value: bullmq,
    unit: "req/s",
    baseline: { what: "bare", value: bare },
  });

  step("service: single-hit ingest, 50 connections");
  const { result: singleRun, cpu: singleCpu } = await cpuOf({ gateway }, () =>
    load({ url: `${gateway.base}/api/logs`, variants: single(keys), durationS: D, title: "POST /api/logs" }),
  );
  budgets.push({ stage: "service: POST /api/logs", unit: "request", work: singleRun.ok, cpu: singleCpu });
  figures.push({
    what: "service: POST /api/logs, 50 connections",
    scope: "gateway alone",
    value: singleRun.requestsPerSec,
    unit: "req/s",
    baseline: { what: "bare", value: bare },
    target: { min: 0.7, ofBaseline: true },
  });

  // The batch stage's hits alone fill the queue: the worker drains them below.
  // One node, one shard: the service's default there.
  const queues = createHitQueues(env.redis, createKeys(env.settings.REDIS_PREFIX as string), 1);
  for (const shard of queues.shards) await shard.obliterate({ force: true });

  step("service: batch ingest, 500 hits per request");
  const { result: batchRun, cpu: batchCpu } = await cpuOf({ gateway }, () =>
    load({
      url: `${gateway.base}/api/logs/batch`,
      variants: batch(keys, 500),
      durationS: D,
      connections: 20,
      title: "POST /api/logs/batch ×500",
    }),
  );
  budgets.push({ stage: "service: POST /api/logs/batch ×500", unit: "hit", work: batchRun.ok * 500, cpu: batchCpu });
  figures.push({
    what: "service: POST /api/logs/batch ×500",
    scope: "gateway alone",
    value: batchRun.requestsPerSec * 500,
    unit: "hits/s",
    target: { min: 150_000 },
  });

  step("worker alone: draining the queue the batch stage filled, beside a raw COPY of as many rows");
  const metricsPort = await freePort();
  const startWorker = async (): Promise<Proc> => {
    const proc = await startProcess(["apps/worker/src/main.ts"], { ...env.settings, WORKER_METRICS_PORT: String(metricsPort) }, "", false);
    procs.push(proc);
    await eventually(
      async () => ((await fetch(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined))?.ok ? true : undefined),
      30_000,
      "worker",
    );
    return proc;
  };
  /**
   * Each write stage and the COPY it is compared with start from emptied partitions and
   * write as many rows: a primary key twice as large costs Postgres more per row, and the
   * stages run one after the other on the same table.
   */
  const emptyHits = async (): Promise<void> => void (await sql`TRUNCATE hits`.execute(env.db));
  /**
   * The stages count 2xx answers; a request answered after the load generator stopped is
   * queued all the same. Its hits must be stored before the table is emptied, not land in
   * the next stage's timed COPY.
   */
  const queueIdle = (): Promise<true> =>
    eventually(
      async () => {
        const counts = await queues.counts("waiting", "active", "delayed", "prioritized", "paused");
        return Object.values(counts).every((n) => n === 0) ? true : undefined;
      },
      120_000,
      "hit queue idle",
    );
  const rawCopyStage = async (rows: number, stage: string): Promise<number> => {
    await queueIdle();
    await emptyHits();
    const copier = await openCopy(env.databaseUrl);
    try {
      const { result, cpu } = await cpuOf({ gateway, worker }, () =>
        copier.copy(
          clients.map((c) => c.client_id as string),
          rows,
        ),
      );
      budgets.push({ stage, unit: "row", work: rows, cpu });
      return result;
    } finally {
      await copier.close();
    }
  };

  const queued = batchRun.ok * 500;
  await emptyHits();
  const drainFrom = await committedHits(env);
  const drainStart = performance.now();
  const worker = await startWorker();
  const { cpu: drainCpu } = await cpuOf({ gateway, worker }, () =>
    eventually(async () => ((await committedHits(env)) >= drainFrom + queued ? true : undefined), 900_000, "queue drained"),
  );
  const drainRate = queued / ((performance.now() - drainStart) / 1000);
  budgets.push({ stage: "worker alone (queue → committed)", unit: "hit", work: queued, cpu: drainCpu });
  const copyRate = await rawCopyStage(queued, "raw COPY, as many rows as the drain");
  figures.push({ what: "raw COPY of as many rows as the drain, same table", scope: "baseline", value: copyRate, unit: "rows/s" });
  figures.push({
    what: "worker alone: queue → committed (no HTTP)",
    scope: "worker alone",
    value: drainRate,
    unit: "hits/s",
    baseline: { what: "COPY", value: copyRate },
  });

  step("end to end: hits accepted by the gateway until committed by the worker, beside a raw COPY of as many rows");
  await queueIdle();
  await emptyHits();
  const before = await committedHits(env);
  const started = performance.now();
  const { result: accepted, cpu: e2eCpu } = await cpuOf({ gateway, worker }, async () => {
    const e2eRun = await load({
      url: `${gateway.base}/api/logs/batch`,
      variants: batch(keys, 500),
      durationS: D,
      connections: 8,
      title: "sustained batch ingest with the worker running",
    });
    await eventually(
      async () => ((await committedHits(env)) >= before + e2eRun.ok * 500 ? true : undefined),
      600_000,
      "all accepted hits committed",
    );
    return e2eRun.ok * 500;
  });
  const e2eRate = accepted / ((performance.now() - started) / 1000);
  budgets.push({ stage: "service: accepted → committed", unit: "hit", work: accepted, cpu: e2eCpu });
  const e2eCopyRate = await rawCopyStage(accepted, "raw COPY, as many rows as end to end");
  await queues.close();
  figures.push({ what: "raw COPY of as many rows as end to end", scope: "baseline", value: e2eCopyRate, unit: "rows/s" });
  figures.push({
    what: "service: accepted → committed, sustained",
    scope: "whole system",
    value: e2eRate,
    unit: "hits/s",
    baseline: { what: "COPY", value: e2eCopyRate },
    target: { min: 0.8, ofBaseline: true },
  });

  // A fresh worker, so its lag quantiles cover this stage only (not the backlog above).
  const maxLoadWorkerPeak = memoryOf(worker.child.pid).peakMb;
  await worker.stop();
  const halfWorker = await startWorker();

  step("half the end-to-end rate: lag from acceptance to commit, and usage reads under that load");
  const halfRate = Math.max(1, Math.round(e2eRate / 2 / 500));
  // Reads are timed one by one at a fixed rate (see lib/probe.ts), beside the ingest load.
  // The ingest goes on until the probes are done (each warms up before its timed window).
  const probes = readProbes(D);
  const [ingest, { daily, top, health }] = await Promise.all([
    paced({
      url: `${gateway.base}/api/logs/batch`,
      method: "POST",
      variants: batch(keys, 500),
      perSecond: halfRate,
      durationS: D + 60,
      until: probes,
    }),
    probes,
  ]);
  const failed = [daily, top, health].reduce((sum, probe) => sum + probe.failures, 0);
  process.stderr.write(`  ingest at ${Math.round(ingest.sentPerSec * 500)} hits/s, ${ingest.failures} failed; reads failed: ${failed}\n`);
  const workerMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
  const lag = {
    p50: await scrapeQuantile(workerMetrics, "usage_ingest_lag_seconds", "0.5"),
    p99: await scrapeQuantile(workerMetrics, "usage_ingest_lag_seconds", "0.99"),
  };
  // The same reads as timed inside the gateway: what the handler took, without the trip.
  const served = async (route: string): Promise<number> =>
    scrapeQuantile(`${gateway.base}/metrics`, "usage_read_seconds", "0.99", `,route="${route}"`);
  figures.push({ what: "lag 202 → commit at half rate, p50", scope: "whole system", value: lag.p50, unit: "ms" });
  figures.push({ what: "lag 202 → commit at half rate, p99", scope: "whole system", value: lag.p99, unit: "ms", target: { max: 1000 } });
  figures.push({ what: "GET /health p99, nothing ingesting (no I/O)", scope: "gateway alone", value: quiet.health.p99, unit: "ms" });
  figures.push({ what: "GET /api/usage/daily p99, nothing ingesting", scope: "gateway alone", value: quiet.daily.p99, unit: "ms" });
  figures.push({ what: "GET /api/usage/top p99, nothing ingesting", scope: "gateway alone", value: quiet.top.p99, unit: "ms" });
  figures.push({ what: "GET /health p99 while ingesting (no I/O: the floor)", scope: "whole system", value: health.p99, unit: "ms" });
  const floor = { what: "/health", value: health.p99 };
  figures.push({
    what: "GET /api/usage/daily p99 while ingesting",
    scope: "whole system",
    value: daily.p99,
    unit: "ms",
    baseline: floor,
    target: { max: 5 },
  });
  figures.push({
    what: "daily p99, of which inside the gateway",
    scope: "whole system",
    value: await served("/api/usage/daily"),
    unit: "ms",
  });
  figures.push({
    what: "GET /api/usage/top p99 while ingesting",
    scope: "whole system",
    value: top.p99,
    unit: "ms",
    baseline: floor,
    target: { max: 5 },
  });
  figures.push({ what: "top p99, of which inside the gateway", scope: "whole system", value: await served("/api/usage/top"), unit: "ms" });

  let soak: Array<Record<string, number>> | undefined;
  if (SOAK > 0) {
    step(`soak: ${SOAK} s at half the end-to-end rate, memory sampled every 10 s`);
    const sampler = sampleMemory({ gateway: gateway.child.pid, worker: halfWorker.child.pid }, 10_000);
    await paced({
      url: `${gateway.base}/api/logs/batch`,
      method: "POST",
      variants: batch(keys, 500),
      perSecond: halfRate,
      durationS: SOAK,
      progressS: 30,
      title: "soak",
    });
    soak = sampler.stop();
    const first = soak[1] ?? soak[0];
    const last = soak[soak.length - 1];
    figures.push({
      what: "soak: gateway RSS at the end",
      scope: "per process",
      value: last?.gateway ?? 0,
      unit: "MB",
      baseline: { what: "after 10 s", value: first?.gateway ?? 0 },
      target: { max: 256 },
    });
    figures.push({
      what: "soak: worker RSS at the end",
      scope: "per process",
      value: last?.worker ?? 0,
      unit: "MB",
      baseline: { what: "after 10 s", value: first?.worker ?? 0 },
      target: { max: 256 },
    });
  }
  const gatewayMem = memoryOf(gateway.child.pid);
  const workerMem = { peakMb: Math.max(maxLoadWorkerPeak, memoryOf(halfWorker.child.pid).peakMb) };
  figures.push({ what: "gateway peak RSS", scope: "per process", value: gatewayMem.peakMb, unit: "MB", target: { max: 256 } });
  figures.push({ what: "worker peak RSS", scope: "per process", value: workerMem.peakMb, unit: "MB", target: { max: 256 } });

  let sweep = "";
  if (values.sweep) {
    step("group-commit tuning: single-hit ingest under several settings");
    await gateway.stop();
    sweep = sweepTable(await sweepGroupCommit(env, keys, () => JSON.stringify(hitBody()), D));
    process.stdout.write(`\n${sweep}\n`);
  }

  const table = textTable(figures);
  const cpu = cpuTable(budgets, CPU_PARTIES);
  process.stdout.write(`\n${table}\n\nCPU µs per unit of work, by process (2 cores = 2 s of CPU per second):\n${cpu}\n`);
  if (!values["no-write"]) {
    const by = (what: string): Figure => figures.find((f) => f.what.startsWith(what)) as Figure;
    const ratio = (f: Figure): number => f.value / (f.baseline?.value ?? 1);
    writeFileSync(
      "docs/benchmarks.svg",
      chartSvg({
        throughput: [
          { label: "INSERT per hit / bare", value: ratio(by("naive: one INSERT")) },
          { label: "BullMQ job per hit / bare", value: ratio(by("naive: one BullMQ")) },
          { label: "POST /api/logs / bare", value: ratio(by("service: POST /api/logs,")), target: 0.7 },
          { label: "batch ×500 / 150k hits/s", value: by("service: POST /api/logs/batch").value / 150_000, target: 1 },
          { label: "end to end / raw COPY", value: ratio(by("service: accepted")), target: 0.8 },
        ],
        latency: [
          { label: "lag p50", value: by("lag 202 → commit at half rate, p50").value },
          { label: "lag p99", value: by("lag 202 → commit at half rate, p99").value, target: 1000 },
          { label: "daily read p99", value: daily.p99, target: 5 },
          { label: "top read p99", value: top.p99, target: 5 },
          { label: "/health p99 (no I/O)", value: health.p99 },
        ],
        memory: [
          { label: "gateway peak RSS", value: gatewayMem.peakMb, target: 256 },
          { label: "worker peak RSS", value: workerMem.peakMb, target: 256 },
        ],
        ...(soak === undefined ? {} : { soak }),
      }),
    );
    writeFileSync(
      "docs/benchmarks-latest.md",
      `Measured ${new Date().toISOString()} with \`pnpm bench --duration ${D}${SOAK > 0 ? ` --soak ${SOAK}` : ""}${values.sweep ? " --sweep" : ""}\` on: ${describeMachine()}.\n\n${markdownTable(figures)}\n\nCPU µs per unit of work, by process, in the throughput stages (2 cores: at most 2 s of CPU per second of wall clock):\n\n${cpu}\n\n![benchmark chart](benchmarks.svg)\n${sweep === "" ? "" : `\n${sweep}\n`}`,
    );
    process.stderr.write("\nwrote docs/benchmarks-latest.md and docs/benchmarks.svg\n");
  }
} finally {
  for (const proc of procs.reverse()) await proc.stop();
  await env.cleanup();
}
