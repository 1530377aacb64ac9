import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { type PrivateRedisCluster, startPrivateRedisCluster } from "@usage/testkit";
import { cpuTable, redisPort } from "./cpu-budget.ts";
import { createBenchEnv, type Proc } from "./env.ts";
import { hitStages, STAGES, type StageCpu, serverPartiesOf, startGatewayWithClients } from "./hit-stages.ts";
import type { LoadResult } from "./load.ts";
import { describeMachine } from "./machine.ts";
import { memoryOf } from "./proc-stats.ts";
import { addCosts, type HitCosts, project } from "./projection.ts";
import { chartSvg, replaceSection } from "./report.ts";
import { createTeardown } from "./teardown.ts";

/**
 * `pnpm bench --cluster`: the ingest stages of `pnpm bench` (lib/hit-stages.ts) on the one
 * Redis node at REDIS_URL, then on a private 6-node Redis Cluster, each with a fresh
 * database and prefix; the figures side by side, the CPU per process of each, and the
 * throughput those costs project for more machines (lib/projection.ts).
 */

const DOC = "docs/benchmarks.md";
const CHART = "docs/benchmarks-cluster.svg";
export const SECTION_HEADING = "## Single node and cluster (`pnpm bench --cluster`)";
/** The CPU table's columns: the cluster's six nodes summed as its three primaries and its three replicas. */
const PARTIES = ["gateway", "worker", "redis primaries", "redis replicas", "postgres", "load generator"] as const;
/** The machines the projection counts in: like this one. */
const CORES_PER_MACHINE = 2;
const MACHINES = [1, 2, 4, 8];

const step = (text: string): void => void process.stderr.write(`\n▶ ${text}\n`);
const fmt = (n: number): string =>
  !Number.isFinite(n) ? "—" : n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(n >= 10 ? 1 : 2);

interface TopologyRun {
  name: string;
  /** Redis nodes that serve slots (1 on one node), each with a replica on the cluster. */
  primaries: number;
  single: LoadResult;
  batch: { hitsPerSec: number; latencyP99: number; failed: number };
  drain: number;
  e2e: { hitsPerSec: number; failed: number };
  lag: { p50: number; p99: number };
  budgets: StageCpu[];
  gatewayPeakMb: number;
  workerPeakMb: number;
}

type Teardown = ReturnType<typeof createTeardown>;

/** The ingest stages, in `pnpm bench`'s order, with the service on one Redis node or on `cluster`. */
const runTopology = async (
  name: string,
  durationS: number,
  keep: boolean,
  teardown: Teardown,
  cluster?: PrivateRedisCluster,
): Promise<TopologyRun> => {
  step(`${name}: a fresh database and Redis prefix, the gateway and 50 clients`);
  const env = await createBenchEnv(keep, cluster?.seeds);
  const dropEnv = teardown.add(() => env.cleanup());
  const procs: Proc[] = [];
  const stopProcs = teardown.add(async () => {
    for (const proc of procs.reverse()) await proc.stop();
  });
  try {
    const primaries =
      cluster === undefined ? [redisPort(env.settings.REDIS_URL as string)] : (await cluster.primaries()).map((n) => n.port);
    const replicas = (cluster?.nodes ?? []).map((n) => n.port).filter((port) => !primaries.includes(port));
    const shared = await serverPartiesOf(env, { "redis primaries": primaries, "redis replicas": replicas });
    const budgets: StageCpu[] = [];
    const { gateway, keys, clientIds } = await startGatewayWithClients(env, procs);
    const stages = await hitStages({ env, gateway, keys, clientIds, durationS, shared, budgets, procs });
    try {
      step(`${name}: single-hit ingest, 50 connections (gateway alone)`);
      const single = await stages.singleHit();
      step(`${name}: batch ingest, 500 hits per request (gateway alone)`);
      const batch = await stages.batch();
      step(`${name}: worker alone, draining the queue the batch stage filled`);
      const drain = await stages.drain(batch.hits);
      step(`${name}: end to end, hits accepted by the gateway until committed by the worker`);
      const e2e = await stages.endToEnd();
      step(`${name}: half the end-to-end rate: lag from acceptance to commit`);
      const half = await stages.halfRate(e2e.hitsPerSec, (seconds) => new Promise<void>((done) => setTimeout(done, seconds * 1000)));
      process.stderr.write(`  ingest at ${Math.round(half.sentHitsPerSec)} hits/s, ${half.failures} failed\n`);
      return {
        name,
        primaries: primaries.length,
        single,
        batch,
        drain,
        e2e,
        lag: half.lag,
        budgets,
        gatewayPeakMb: memoryOf(gateway.child.pid).peakMb,
        workerPeakMb: stages.workerPeakMb(),
      };
    } finally {
      await stages.close();
    }
  } finally {
    await stopProcs();
    await dropEnv();
  }
};

/** CPU µs per unit of work of `party` in a stage's row. */
const perUnit = (budgets: StageCpu[], stage: string, party: string): number => {
  const row = budgets.find((b) => b.stage === stage);
  return row === undefined || row.work === 0 ? 0 : ((row.cpu.seconds[party] ?? 0) * 1e6) / row.work;
};
const costsOf = (budgets: StageCpu[], stage: string): HitCosts => ({
  gateway: perUnit(budgets, stage, "gateway"),
  worker: perUnit(budgets, stage, "worker"),
  redisPrimaries: perUnit(budgets, stage, "redis primaries"),
  redisReplicas: perUnit(budgets, stage, "redis replicas"),
  postgres: perUnit(budgets, stage, "postgres"),
});

/**
 * Two workloads: batches of 500 as the end-to-end stage measured them whole; single hits as
 * the single-hit stage accepted them (gateway alone) plus what the worker alone took to store
 * a hit.
 */
const WORKLOADS: Array<{ name: string; costs: (run: TopologyRun) => HitCosts }> = [
  { name: "batches of 500 (the end-to-end stage)", costs: (run) => costsOf(run.budgets, STAGES.endToEnd) },
  {
    name: "single hits (the single-hit stage + the worker-alone stage)",
    costs: (run) => addCosts(costsOf(run.budgets, STAGES.singleHit), costsOf(run.budgets, STAGES.drain)),
  },
];

const layoutOf = (run: TopologyRun, machines: number) => ({
  gatewayMachines: machines,
  workerMachines: machines,
  coresPerMachine: CORES_PER_MACHINE,
  redisPrimaries: run.primaries,
  postgresCores: CORES_PER_MACHINE,
});

const sideBySide = (single: TopologyRun, cluster: TopologyRun): string => {
  const machineUs = (run: TopologyRun): number => {
    const row = run.budgets.find((b) => b.stage === STAGES.endToEnd);
    return row === undefined || row.work === 0 ? 0 : (row.cpu.machineS * 1e6) / row.work;
  };
  const rows: Array<[string, (run: TopologyRun) => number, string]> = [
    ["POST /api/logs, 50 connections (gateway alone)", (r) => r.single.requestsPerSec, "req/s"],
    ["POST /api/logs latency p50", (r) => r.single.latencyP50, "ms"],
    ["POST /api/logs latency p99", (r) => r.single.latencyP99, "ms"],
    ["POST /api/logs/batch ×500 (gateway alone)", (r) => r.batch.hitsPerSec, "hits/s"],
    ["POST /api/logs/batch ×500 latency p99", (r) => r.batch.latencyP99, "ms"],
    ["worker alone: queue → committed", (r) => r.drain, "hits/s"],
    ["accepted → committed, sustained (whole system)", (r) => r.e2e.hitsPerSec, "hits/s"],
    ["lag 202 → commit at half rate, p50", (r) => r.lag.p50, "ms"],
    ["lag 202 → commit at half rate, p99", (r) => r.lag.p99, "ms"],
    ["machine CPU per hit, end to end", machineUs, "µs"],
    ["requests not answered 2xx (the three load stages)", (r) => r.single.non2xx + r.single.errors + r.batch.failed + r.e2e.failed, ""],
    ["gateway peak RSS", (r) => r.gatewayPeakMb, "MB"],
    ["worker peak RSS", (r) => r.workerPeakMb, "MB"],
  ];
  const lines = rows.map(([what, value, unit]) => {
    const a = value(single);
    const b = value(cluster);
    const ratio = a > 0 ? `${(b / a).toFixed(2)} ×` : "";
    const cell = (n: number): string => (unit === "" ? String(Math.round(n)) : `${fmt(n)} ${unit}`);
    return `| ${what} | ${cell(a)} | ${cell(b)} | ${ratio} |`;
  });
  return ["| figure | single node | cluster | cluster ÷ single |", "|---|---:|---:|---:|", ...lines].join("\n");
};

const projectionText = (single: TopologyRun, cluster: TopologyRun): string => {
  const costs = WORKLOADS.map((w) => ({ name: w.name, single: w.costs(single), cluster: w.costs(cluster) }));
  const us = (n: number): string => (n > 0 ? n.toFixed(1) : "—");
  const perNode = (total: number, nodes: number): string =>
    total > 0 && nodes > 1 ? `${us(total)} (${us(total / nodes)} a node)` : us(total);
  const costRows: Array<[string, string, (c: HitCosts, nodes: number) => string]> = [
    ["gateway", `${CORES_PER_MACHINE} per machine`, (c) => us(c.gateway)],
    ["worker", `${CORES_PER_MACHINE} per machine`, (c) => us(c.worker)],
    ["Redis: the one node, or the primaries", "1 per node", (c, nodes) => perNode(c.redisPrimaries, nodes)],
    ["Redis replicas", "1 per node", (c, nodes) => perNode(c.redisReplicas, nodes)],
    ["Postgres (one primary)", String(CORES_PER_MACHINE), (c) => us(c.postgres)],
  ];
  const costTable = [
    `| part | cores | ${costs.map((c) => `${c.name}: single node | cluster`).join(" | ")} |`,
    `|---|---|${costs.map(() => "---:|---:").join("|")}|`,
    ...costRows.map(
      ([part, cores, cell]) =>
        `| ${part} | ${cores} | ${costs.map((c) => `${cell(c.single, single.primaries)} | ${cell(c.cluster, cluster.primaries)}`).join(" | ")} |`,
    ),
  ].join("\n");
  const rateTables = costs.map((c) => {
    const rows = MACHINES.map((n) => {
      const a = project(c.single, layoutOf(single, n));
      const b = project(c.cluster, layoutOf(cluster, n));
      return `| ${n} + ${n} | ${fmt(a.hitsPerSec)} | ${a.saturates} | ${fmt(b.hitsPerSec)} | ${b.saturates} |`;
    });
    return [
      `Projected hits/s, ${c.name}:`,
      "",
      `| gateway + worker machines | one Redis node | saturates first | Redis Cluster, ${cluster.primaries} primaries | saturates first |`,
      "|---|---:|---|---:|---|",
      ...rows,
    ].join("\n");
  });
  return [
    "**Projection.** rate = min over parts of (cores of the part × 10⁶ ÷ µs of CPU per hit in that part); the part with the",
    `least saturates first. Parts: N gateway and N worker machines of ${CORES_PER_MACHINE} cores, each running as many processes of`,
    "its kind and nothing else (Node runs JavaScript on one core); Redis as measured (one node, or the cluster's",
    `${cluster.primaries} primaries each with a replica, every node on a machine of its own, one core each since Redis runs commands on one thread, each`,
    `carrying an even share of the hits); one Postgres primary on ${CORES_PER_MACHINE} cores. Assumptions: a hit costs each part what it`,
    "cost here at any rate and any size; the measurement ran on one machine over loopback, so no network latency or",
    "bandwidth is counted (the loopback's kernel time is in each process's system time) and the processes competed for",
    "its cores; the load generator runs elsewhere; Postgres' disk keeps up; Redis memory, connections and the worker's",
    "concurrency are not limits. Single hits: the worker's share is what it took per hit on jobs of 500 (the gateway",
    "groups single hits into jobs of varying size).",
    "",
    "CPU µs per hit by part:",
    "",
    costTable,
    "",
    ...rateTables.flatMap((t) => [t, ""]),
  ]
    .join("\n")
    .trim();
};

const cpuTables = (runs: TopologyRun[]): string =>
  runs.map((run) => `CPU µs per unit of work, by process, ${run.name}:\n\n${cpuTable(run.budgets, PARTIES)}`).join("\n\n");

const chart = (single: TopologyRun, cluster: TopologyRun): string => {
  const ratio = (value: (run: TopologyRun) => number, label: string) => ({
    label,
    value: value(cluster) / (value(single) || 1),
    target: 1,
  });
  return chartSvg({
    throughput: [
      ratio((r) => r.single.requestsPerSec, "POST /api/logs: cluster ÷ node"),
      ratio((r) => r.batch.hitsPerSec, "batch ×500: cluster ÷ node"),
      ratio((r) => r.drain, "worker alone: cluster ÷ node"),
      ratio((r) => r.e2e.hitsPerSec, "end to end: cluster ÷ node"),
    ],
    latency: [
      { label: "lag p50, one node", value: single.lag.p50 },
      { label: "lag p50, cluster", value: cluster.lag.p50 },
      { label: "lag p99, one node", value: single.lag.p99, target: 1000 },
      { label: "lag p99, cluster", value: cluster.lag.p99, target: 1000 },
    ],
    memory: [
      { label: "gateway peak RSS, one node", value: single.gatewayPeakMb, target: 256 },
      { label: "gateway peak RSS, cluster", value: cluster.gatewayPeakMb, target: 256 },
      { label: "worker peak RSS, one node", value: single.workerPeakMb, target: 256 },
      { label: "worker peak RSS, cluster", value: cluster.workerPeakMb, target: 256 },
    ],
  });
};

export interface TopologyOptions {
  durationS: number;
  write: boolean;
  keep: boolean;
}

/** Runs both topologies, prints the tables, and (`write`) puts them in docs/benchmarks.md. */
export const benchTopologies = async ({ durationS, write, keep }: TopologyOptions): Promise<void> => {
  const teardown = createTeardown();
  let single: TopologyRun;
  let clustered: TopologyRun;
  try {
    single = await runTopology("single node", durationS, keep, teardown);
    step("starting a private Redis Cluster: 6 nodes, 3 primaries + 3 replicas");
    const cluster = await startPrivateRedisCluster();
    const stopCluster = teardown.add(() => cluster.stop());
    process.stderr.write(`  nodes: ${cluster.seeds}\n`);
    try {
      clustered = await runTopology("cluster", durationS, keep, teardown, cluster);
    } finally {
      step("stopping the private Redis Cluster");
      await stopCluster();
    }
  } finally {
    await teardown.close();
  }

  const table = sideBySide(single, clustered);
  const cpu = cpuTables([single, clustered]);
  const projection = projectionText(single, clustered);
  process.stdout.write(`\n${table}\n\n${cpu}\n\n(2 cores = 2 s of CPU per second)\n\n${projection}\n`);
  if (!write) return;
  const body = [
    `Measured ${new Date().toISOString()} with \`pnpm bench --cluster --duration ${durationS}\` on: ${describeMachine()}.`,
    "The single node is the Redis at REDIS_URL; the cluster is a private one of the test kit on the same machine (6 nodes:",
    "3 primaries + 3 replicas, AOF `everysec`), with the hit queue in 3 shards and each 202 after `WAIT 1 500`. Each gets a",
    "fresh database and Redis prefix, and runs the ingest stages of `pnpm bench` (no baselines, no reads).",
    "",
    table,
    "",
    cpu,
    "",
    projection,
    "",
    `![single node and cluster](${CHART.replace("docs/", "")})`,
  ].join("\n");
  writeFileSync(DOC, replaceSection(readFileSync(DOC, "utf8"), SECTION_HEADING, body));
  // Aligned as Biome aligns markdown tables, or `pnpm lint` fails on the file the run wrote.
  try {
    execFileSync("node_modules/.bin/biome", ["format", "--write", DOC], { stdio: "ignore" });
  } catch {
    process.stderr.write(`could not format ${DOC}: run \`pnpm format\` before committing it\n`);
  }
  writeFileSync(CHART, chart(single, clustered));
  process.stderr.write(`\nwrote the section "${SECTION_HEADING.slice(3)}" of ${DOC}, and ${CHART}\n`);
};
