import { createHitQueues, createKeys } from "@usage/store";
import { call, eventually, freePort } from "@usage/testkit";
import { sql } from "kysely";
import { openCopy } from "./copy.ts";
import { type CpuBudget, type CpuParty, measureCpu, serverParties } from "./cpu-budget.ts";
import { type BenchEnv, type Proc, startProcess } from "./env.ts";
import { type LoadResult, load } from "./load.ts";
import { paced } from "./probe.ts";
import { memoryOf, parentOf } from "./proc-stats.ts";

/**
 * The hit-ingest stages of `pnpm bench` on one Redis topology: single hits and batches into
 * the gateway alone, the worker draining what the batches queued, accepted → committed, and
 * the lag at half that rate. `pnpm bench` runs them on one Redis node; `--cluster` runs them
 * again on a Redis Cluster, the same way.
 */

/** One stage's CPU, as cpuTable takes it. */
export interface StageCpu {
  stage: string;
  unit: string;
  work: number;
  cpu: CpuBudget;
}

export const BATCH = 500;

/** The stages' names in the CPU table, and for whoever reads their rows back. */
export const STAGES = {
  singleHit: "service: POST /api/logs",
  batch: "service: POST /api/logs/batch ×500",
  drain: "worker alone (queue → committed)",
  endToEnd: "service: accepted → committed",
  singleHitWhole: "whole system: POST /api/logs",
} as const;

export const hitBody = (): Record<string, unknown> => ({
  ip: "203.0.113.7",
  endpoint: "/v1/things",
  timestamp: new Date().toISOString(),
  method: "GET",
  status: 200,
});
export const single = (keys: string[]) => keys.map((key) => ({ body: JSON.stringify(hitBody()), headers: { "x-api-key": key } }));
export const batch = (keys: string[], size: number) =>
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
export const scrapeQuantile = async (metricsUrl: string, name: string, quantile: string, labels = ""): Promise<number> => {
  const text = await (await fetch(metricsUrl)).text();
  const escaped = `${name}{quantile="${quantile}"${labels}}`.replace(/[{}.]/g, "\\$&");
  return Number(new RegExp(`${escaped} ([0-9.e+-]+)`).exec(text)?.[1] ?? Number.NaN) * 1000;
};

/** Measures a stage's CPU: our processes by pid, beside the shared parties (Redis, Postgres, the load generator). */
export const cpuMeter =
  (shared: readonly CpuParty[]) =>
  <T>(ours: Record<string, Proc | undefined>, stage: () => Promise<T>): Promise<{ result: T; cpu: CpuBudget }> =>
    measureCpu([...Object.entries(ours).map(([name, proc]) => ({ name, pid: proc?.child.pid })), ...shared], stage);

/**
 * The servers an environment's service uses, as CPU parties: the Redis nodes on `redis`'s
 * ports by name, and its Postgres server, found as the parent of one of its backends.
 */
export const serverPartiesOf = async (env: BenchEnv, redis: Record<string, readonly number[]>): Promise<CpuParty[]> => {
  const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(env.db);
  const backend = rows[0]?.pid;
  return serverParties(redis, {
    postmaster: backend === undefined ? undefined : parentOf(backend),
    database: decodeURIComponent(new URL(env.databaseUrl).pathname.slice(1)),
  });
};

/** Starts the gateway and registers 50 clients: the stages spread their load over their keys. */
export const startGatewayWithClients = async (env: BenchEnv, procs: Proc[]) => {
  const gateway = await startProcess(["apps/gateway/src/server.ts"], env.settings, "/health", false);
  procs.push(gateway);
  const clients = await Promise.all(
    Array.from(
      { length: 50 },
      async (_, i) =>
        (await call(gateway.base, "POST", "/api/register", { name: `bench-${i}`, email: `bench-${i}-${Date.now()}@example.com` })).body,
    ),
  );
  return { gateway, keys: clients.map((c) => c.api_key as string), clientIds: clients.map((c) => c.client_id as string) };
};

export interface HitStagesSetup {
  env: BenchEnv;
  gateway: Proc;
  keys: string[];
  clientIds: string[];
  durationS: number;
  /** Measured beside the gateway and the worker in every stage. */
  shared: readonly CpuParty[];
  /** Where each stage's CPU row goes. */
  budgets: StageCpu[];
  /** Where the workers it starts go, for the caller to stop. */
  procs: Proc[];
}

export interface HalfRate<T> {
  lag: { p50: number; p99: number };
  /** Batches per second the paced load was due to send; hits per second it sent, and the requests that failed. */
  perSecond: number;
  sentHitsPerSec: number;
  failures: number;
  /** What `during` measured beside the load. */
  during: T;
}

/** The stages in the order `pnpm bench` runs them: each expects the ones before it to have run. */
export const hitStages = async (setup: HitStagesSetup) => {
  const { env, gateway, keys, durationS: D, budgets } = setup;
  const cpuOf = cpuMeter(setup.shared);
  const queues = createHitQueues(env.redis, createKeys(env.settings.REDIS_PREFIX as string), Number(env.settings.HIT_QUEUE_SHARDS));
  const metricsPort = await freePort();
  let worker: Proc | undefined;
  let workerPeakMb = 0;

  const startWorker = async (): Promise<Proc> => {
    const proc = await startProcess(["apps/worker/src/main.ts"], { ...env.settings, WORKER_METRICS_PORT: String(metricsPort) }, "", false);
    setup.procs.push(proc);
    await eventually(
      async () => ((await fetch(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined))?.ok ? true : undefined),
      30_000,
      "worker",
    );
    worker = proc;
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

  return {
    /** Seconds per stage. */
    durationS: D,
    /** The worker running now, once a stage started one. */
    worker: (): Proc | undefined => worker,
    /** The highest peak RSS of the workers stopped so far and the one running. */
    workerPeakMb: (): number => Math.max(workerPeakMb, memoryOf(worker?.child.pid).peakMb),

    /** Gateway alone: POST /api/logs, one hit per request, 50 connections. */
    async singleHit(): Promise<LoadResult> {
      // Unrecorded: the gateway's first load pays for its JIT, which the whole-system stage,
      // later in the run, does not; both are timed warm.
      await load({ url: `${gateway.base}/api/logs`, variants: single(keys), durationS: 2, title: "warm-up", quiet: true });
      const { result, cpu } = await cpuOf({ gateway }, () =>
        load({ url: `${gateway.base}/api/logs`, variants: single(keys), durationS: D, title: "POST /api/logs" }),
      );
      budgets.push({ stage: STAGES.singleHit, unit: "request", work: result.ok, cpu });
      return result;
    },

    /** Gateway alone: POST /api/logs/batch ×500, 20 connections. Its hits alone fill the queue: `drain` empties it. */
    async batch(): Promise<{ hitsPerSec: number; hits: number; latencyP99: number; failed: number }> {
      for (const shard of queues.shards) await shard.obliterate({ force: true });
      const { result, cpu } = await cpuOf({ gateway }, () =>
        load({
          url: `${gateway.base}/api/logs/batch`,
          variants: batch(keys, BATCH),
          durationS: D,
          connections: 20,
          title: "POST /api/logs/batch ×500",
        }),
      );
      budgets.push({ stage: STAGES.batch, unit: "hit", work: result.ok * BATCH, cpu });
      return {
        hitsPerSec: result.requestsPerSec * BATCH,
        hits: result.ok * BATCH,
        latencyP99: result.latencyP99,
        failed: result.non2xx + result.errors,
      };
    },

    /** Worker alone: starts the worker and times it storing the `queued` hits the batch stage left. */
    async drain(queued: number): Promise<number> {
      await emptyHits();
      const from = await committedHits(env);
      const started = performance.now();
      const proc = await startWorker();
      const { cpu } = await cpuOf({ gateway, worker: proc }, () =>
        eventually(async () => ((await committedHits(env)) >= from + queued ? true : undefined), 900_000, "queue drained"),
      );
      budgets.push({ stage: STAGES.drain, unit: "hit", work: queued, cpu });
      return queued / ((performance.now() - started) / 1000);
    },

    /** The baseline of the write stages: a raw COPY of `rows` hits into the emptied table; rows per second. */
    async rawCopy(rows: number, stage: string): Promise<number> {
      await queueIdle();
      await emptyHits();
      const copier = await openCopy(env.databaseUrl);
      try {
        const { result, cpu } = await cpuOf({ gateway, worker }, () => copier.copy(setup.clientIds, rows));
        budgets.push({ stage, unit: "row", work: rows, cpu });
        return result;
      } finally {
        await copier.close();
      }
    },

    /** Whole system: batches with the worker running, timed until every accepted hit is committed. */
    async endToEnd(): Promise<{ hitsPerSec: number; hits: number; failed: number }> {
      await queueIdle();
      await emptyHits();
      const before = await committedHits(env);
      const started = performance.now();
      const { result: run, cpu } = await cpuOf({ gateway, worker }, async () => {
        const run = await load({
          url: `${gateway.base}/api/logs/batch`,
          variants: batch(keys, BATCH),
          durationS: D,
          connections: 8,
          title: "sustained batch ingest with the worker running",
        });
        await eventually(
          async () => ((await committedHits(env)) >= before + run.ok * BATCH ? true : undefined),
          600_000,
          "all accepted hits committed",
        );
        return run;
      });
      const accepted = run.ok * BATCH;
      budgets.push({ stage: STAGES.endToEnd, unit: "hit", work: accepted, cpu });
      return { hitsPerSec: accepted / ((performance.now() - started) / 1000), hits: accepted, failed: run.non2xx + run.errors };
    },

    /**
     * Whole system at half the end-to-end rate, on a fresh worker so its lag quantiles cover
     * this stage only (not the backlogs above). `during` (the bench's read probes) runs
     * beside the load, which goes on until it is done.
     */
    async halfRate<T>(e2eHitsPerSec: number, during: (seconds: number) => Promise<T>): Promise<HalfRate<T>> {
      if (worker !== undefined) {
        workerPeakMb = Math.max(workerPeakMb, memoryOf(worker.child.pid).peakMb);
        await worker.stop();
      }
      await startWorker();
      const measured = during(D);
      const perSecond = Math.max(1, Math.round(e2eHitsPerSec / 2 / BATCH));
      const ingest = await paced({
        url: `${gateway.base}/api/logs/batch`,
        method: "POST",
        variants: batch(keys, BATCH),
        perSecond,
        durationS: D + 60,
        until: measured,
      });
      const metrics = `http://127.0.0.1:${metricsPort}/metrics`;
      return {
        lag: {
          p50: await scrapeQuantile(metrics, "usage_ingest_lag_seconds", "0.5"),
          p99: await scrapeQuantile(metrics, "usage_ingest_lag_seconds", "0.99"),
        },
        perSecond,
        sentHitsPerSec: ingest.sentPerSec * BATCH,
        failures: ingest.failures,
        during: await measured,
      };
    },

    /**
     * Whole system: POST /api/logs, one hit per request, 50 connections, with the worker
     * running on the same box (what a user of `pnpm start` sees). Timed twice: the answers
     * while the load ran, and until every accepted hit was committed (a worker that fell
     * behind would show in the second).
     */
    async singleHitWhole(): Promise<{ requestsPerSec: number; committedPerSec: number }> {
      // The gateway-alone stage's hits wait in the queue: stored first, outside the timing.
      if (worker === undefined) await startWorker();
      await queueIdle();
      const before = await committedHits(env);
      const started = performance.now();
      const { result, cpu } = await cpuOf({ gateway, worker }, async () => {
        const run = await load({
          url: `${gateway.base}/api/logs`,
          variants: single(keys),
          durationS: D,
          title: "POST /api/logs, worker running",
        });
        await eventually(async () => ((await committedHits(env)) >= before + run.ok ? true : undefined), 120_000, "single hits committed");
        return run;
      });
      budgets.push({ stage: STAGES.singleHitWhole, unit: "request", work: result.ok, cpu });
      return {
        requestsPerSec: result.requestsPerSec,
        committedPerSec: result.ok / ((performance.now() - started) / 1000),
      };
    },

    /** Whole system: single hits sent at a steady `perSecond` (open loop), each timed from when it was due. */
    singleHitPaced: (perSecond: number) =>
      paced({
        url: `${gateway.base}/api/logs`,
        method: "POST",
        variants: single(keys),
        perSecond,
        durationS: D,
        warmUp: 200,
        maxSockets: 50,
      }),

    /** The paced load of `halfRate`, for the soak. */
    paceBatches: (perSecond: number, durationS: number, title: string) =>
      paced({
        url: `${gateway.base}/api/logs/batch`,
        method: "POST",
        variants: batch(keys, BATCH),
        perSecond,
        durationS,
        progressS: 30,
        title,
      }),

    close: (): Promise<void> => queues.close(),
  };
};

export type HitStages = Awaited<ReturnType<typeof hitStages>>;
