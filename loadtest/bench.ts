import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { call } from "@usage/testkit";
import { benchTopologies } from "./lib/cluster-compare.ts";
import { cpuTable, redisPort } from "./lib/cpu-budget.ts";
import { createBenchEnv, type Proc, startProcess } from "./lib/env.ts";
import {
  cpuMeter,
  hitBody,
  hitStages,
  type StageCpu,
  scrapeQuantile,
  serverPartiesOf,
  single,
  startGatewayWithClients,
} from "./lib/hit-stages.ts";
import { load } from "./lib/load.ts";
import { describeMachine } from "./lib/machine.ts";
import { probeInChild } from "./lib/probe.ts";
import { memoryOf, sampleMemory } from "./lib/proc-stats.ts";
import { chartSvg, type Figure, markdownTable, textTable } from "./lib/report.ts";
import { benchSingle, gatewayAloneFigure, wholeSystemSingleHits } from "./lib/single-hit.ts";
import { sweepGroupCommit, sweepTable } from "./lib/sweep.ts";

/**
 * `pnpm bench [--duration 10] [--soak 600] [--no-write]`: the ingest and read benchmarks,
 * each beside the baseline measured in the same run, printed as a table (headed by which
 * figures are the gateway alone and which the whole system) and written to
 * docs/benchmarks-latest.md with a chart (docs/benchmarks.svg). --duration: seconds per stage, ≥ 3.
 *
 * `pnpm bench --cluster [--duration 10] [--no-write]`: the ingest stages on one Redis node and
 * then on a private Redis Cluster, side by side, with the CPU per hit of each process and the
 * throughput it projects for more machines (lib/cluster-compare.ts); written to the section
 * "Single node and cluster" of docs/benchmarks.md.
 *
 * `pnpm bench --single [--duration 10]`: the single-hit stages alone (bare route, gateway alone,
 * whole system, enforce mode's latency) with their CPU table, printed only (lib/single-hit.ts).
 */
const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    soak: { type: "string", default: "0" },
    "no-write": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    sweep: { type: "boolean", default: false },
    cluster: { type: "boolean", default: false },
    single: { type: "boolean", default: false },
  },
});
const D = Number(values.duration);
const SOAK = Number(values.soak);
/**
 * Seconds per stage, at least 3: the read probes time 50 (top) to 100 reads a second, and a
 * shorter stage leaves a p99 too few samples to mean anything.
 */
const MIN_DURATION_S = 3;
// The cluster comparison is the ingest stages only: a soak or a sweep there is a run of its own.
if (
  !(D >= MIN_DURATION_S) ||
  !(SOAK >= 0) ||
  ((values.cluster || values.single) && (SOAK > 0 || values.sweep)) ||
  (values.cluster && values.single)
) {
  process.stderr.write(
    `pnpm bench: --duration is seconds per stage, at least ${MIN_DURATION_S} (got ${values.duration}); --soak is seconds, 0 or more (got ${values.soak}); --cluster and --single take neither --soak nor --sweep, nor each other\n` +
      `usage: pnpm bench [--duration SECONDS≥${MIN_DURATION_S}] [--soak SECONDS] [--sweep] [--no-write] [--keep]\n` +
      `       pnpm bench --cluster [--duration SECONDS≥${MIN_DURATION_S}] [--no-write] [--keep]\n` +
      `       pnpm bench --single [--duration SECONDS≥${MIN_DURATION_S}] [--keep]\n`,
  );
  process.exit(2);
}
const step = (text: string): void => void process.stderr.write(`\n▶ ${text}\n`);

if (values.cluster) {
  await benchTopologies({ durationS: D, write: !values["no-write"], keep: values.keep });
  process.exit(0);
}
if (values.single) {
  await benchSingle({ durationS: D, keep: values.keep });
  process.exit(0);
}

const env = await createBenchEnv(values.keep);
const procs: Proc[] = [];
const figures: Figure[] = [];

/** Where the machine's CPU went in each throughput stage (see lib/cpu-budget.ts). */
const CPU_PARTIES = ["baseline server", "gateway", "worker", "redis", "postgres", "load generator"] as const;
const budgets: StageCpu[] = [];
const shared = await serverPartiesOf(env, { redis: [redisPort(env.settings.REDIS_URL as string)] });
const cpuOf = cpuMeter(shared);
try {
  step("starting the gateway and registering 50 clients");
  const { gateway, keys, clientIds } = await startGatewayWithClients(env, procs);
  const tokens = await Promise.all(
    keys
      .slice(0, 10)
      .map(
        async (key) => (await call(gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": key })).body.access_token as string,
      ),
  );
  const adminToken = (await call(gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": env.settings.ADMIN_API_KEY as string }))
    .body.access_token as string;
  const stages = await hitStages({ env, gateway, keys, clientIds, durationS: D, shared, budgets, procs });

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
  const singleRun = await stages.singleHit();
  figures.push(gatewayAloneFigure(singleRun.requestsPerSec, bare));

  step("service: batch ingest, 500 hits per request");
  const batchRun = await stages.batch();
  figures.push({
    what: "service: POST /api/logs/batch ×500",
    scope: "gateway alone",
    value: batchRun.hitsPerSec,
    unit: "hits/s",
    target: { min: 150_000 },
  });

  step("worker alone: draining the queue the batch stage filled, beside a raw COPY of as many rows");
  const drainRate = await stages.drain(batchRun.hits);
  const copyRate = await stages.rawCopy(batchRun.hits, "raw COPY, as many rows as the drain");
  figures.push({ what: "raw COPY of as many rows as the drain, same table", scope: "baseline", value: copyRate, unit: "rows/s" });
  figures.push({
    what: "worker alone: queue → committed (no HTTP)",
    scope: "worker alone",
    value: drainRate,
    unit: "hits/s",
    baseline: { what: "COPY", value: copyRate },
  });

  step("end to end: hits accepted by the gateway until committed by the worker, beside a raw COPY of as many rows");
  const e2e = await stages.endToEnd();
  const e2eCopyRate = await stages.rawCopy(e2e.hits, "raw COPY, as many rows as end to end");
  figures.push({ what: "raw COPY of as many rows as end to end", scope: "baseline", value: e2eCopyRate, unit: "rows/s" });
  figures.push({
    what: "service: accepted → committed, sustained",
    scope: "whole system",
    value: e2e.hitsPerSec,
    unit: "hits/s",
    baseline: { what: "COPY", value: e2eCopyRate },
    target: { min: 0.8, ofBaseline: true },
  });

  step("half the end-to-end rate: lag from acceptance to commit, and usage reads under that load");
  // Reads are timed one by one at a fixed rate (see lib/probe.ts), beside the ingest load.
  // The ingest goes on until the probes are done (each warms up before its timed window).
  const half = await stages.halfRate(e2e.hitsPerSec, readProbes);
  const { daily, top, health } = half.during;
  const failed = [daily, top, health].reduce((sum, probe) => sum + probe.failures, 0);
  process.stderr.write(`  ingest at ${Math.round(half.sentHitsPerSec)} hits/s, ${half.failures} failed; reads failed: ${failed}\n`);
  const { lag } = half;
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

  figures.push(...(await wholeSystemSingleHits({ env, stages, keys, gatewayAlone: singleRun.requestsPerSec })));

  let soak: Array<Record<string, number>> | undefined;
  if (SOAK > 0) {
    step(`soak: ${SOAK} s at half the end-to-end rate, memory sampled every 10 s`);
    const sampler = sampleMemory({ gateway: gateway.child.pid, worker: stages.worker()?.child.pid }, 10_000);
    await stages.paceBatches(half.perSecond, SOAK, "soak");
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
  const workerMem = { peakMb: stages.workerPeakMb() };
  await stages.close();
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
          { label: "single hits, whole system / gateway alone", value: ratio(by("whole system: POST /api/logs")), target: 0.9 },
        ],
        latency: [
          { label: "lag p50", value: by("lag 202 → commit at half rate, p50").value },
          { label: "lag p99", value: by("lag 202 → commit at half rate, p99").value, target: 1000 },
          { label: "enforce mode p50", value: by("enforce mode: POST /api/logs at half rate, p50").value },
          { label: "enforce mode p99", value: by("enforce mode: POST /api/logs at half rate, p99").value },
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
