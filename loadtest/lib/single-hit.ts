import { cpuTable, redisPort } from "./cpu-budget.ts";
import { type BenchEnv, createBenchEnv, type Proc, startProcess } from "./env.ts";
import { cpuMeter, type HitStages, hitStages, type StageCpu, serverPartiesOf, single, startGatewayWithClients } from "./hit-stages.ts";
import { load } from "./load.ts";
import { describeMachine } from "./machine.ts";
import { paced } from "./probe.ts";
import { type Figure, textTable } from "./report.ts";

const step = (text: string): void => void process.stderr.write(`\n▶ ${text}\n`);

/** The gateway-alone single-hit figure, beside the bare route of the same run. */
export const gatewayAloneFigure = (requestsPerSec: number, bare: number): Figure => ({
  what: "service: POST /api/logs, 50 connections",
  scope: "gateway alone",
  value: requestsPerSec,
  unit: "req/s",
  baseline: { what: "bare", value: bare },
  // The bar is 0.5 ×; 0.7 × is its goal, and what the table holds it to.
  target: { min: 0.7, ofBaseline: true },
});

/**
 * The single-hit stages with the worker running, as a user of `pnpm start` has them: the
 * most the whole system answers, beside the gateway alone's; then enforce mode's latency
 * (every hit awaited in the user's request path) at a steady half of that rate, beside the
 * bare route's at the same rate.
 */
export const wholeSystemSingleHits = async ({
  env,
  stages,
  keys,
  gatewayAlone,
}: {
  env: BenchEnv;
  stages: HitStages;
  keys: string[];
  gatewayAlone: number;
}): Promise<Figure[]> => {
  step("whole system: single-hit ingest with the worker running, 50 connections");
  const whole = await stages.singleHitWhole();
  const figures: Figure[] = [
    {
      what: "whole system: POST /api/logs, 50 connections",
      scope: "whole system",
      value: whole.requestsPerSec,
      unit: "req/s",
      baseline: { what: "gateway alone", value: gatewayAlone },
      target: { min: 0.9, ofBaseline: true },
    },
    {
      what: "whole system: single hits accepted → committed",
      scope: "whole system",
      value: whole.committedPerSec,
      unit: "hits/s",
      baseline: { what: "gateway alone", value: gatewayAlone },
    },
  ];
  const rate = Math.max(1, Math.round(whole.requestsPerSec / 2));
  step(`enforce mode: single hits at a steady ${rate} req/s (half the whole system's rate), then the bare route at the same rate`);
  const service = await stages.singleHitPaced(rate);
  const bare = await startProcess(["loadtest/baselines/server.ts", "bare"], env.settings, "/api/logs", true);
  const baseline = await paced({
    url: `${bare.base}/api/logs`,
    method: "POST",
    variants: single(keys),
    perSecond: rate,
    durationS: stages.durationS,
    warmUp: 200,
    maxSockets: 50,
  }).finally(() => bare.stop());
  process.stderr.write(
    `  service: sent ${Math.round(service.sentPerSec)} req/s, ${service.failures} failed; bare route: sent ${Math.round(baseline.sentPerSec)} req/s, ${baseline.failures} failed\n`,
  );
  // A failed request is left out of the quantiles: counted here, so the latency cannot look good by failing.
  figures.push({
    what: "enforce mode: requests failed at half rate",
    scope: "whole system",
    value: service.failures,
    unit: "requests",
    target: { max: 0 },
  });
  for (const q of ["p50", "p99"] as const) {
    figures.push({
      what: `enforce mode: POST /api/logs at half rate, ${q}`,
      scope: "whole system",
      value: service[q],
      unit: "ms",
      baseline: { what: "bare route", value: baseline[q] },
    });
  }
  return figures;
};

/**
 * `pnpm bench --single`: the single-hit stages alone (bare route, gateway alone, whole
 * system, enforce mode's latency) with their CPU table; a quick loop for work on that path.
 * Prints only: the figures of record come from a whole `pnpm bench`.
 */
export const benchSingle = async ({ durationS, keep }: { durationS: number; keep: boolean }): Promise<void> => {
  const env = await createBenchEnv(keep);
  const procs: Proc[] = [];
  const budgets: StageCpu[] = [];
  try {
    const shared = await serverPartiesOf(env, { redis: [redisPort(env.settings.REDIS_URL as string)] });
    step("starting the gateway and registering 50 clients");
    const { gateway, keys, clientIds } = await startGatewayWithClients(env, procs);
    const stages = await hitStages({ env, gateway, keys, clientIds, durationS, shared, budgets, procs });
    step("baseline: bare Fastify route (same schema, no I/O)");
    const server = await startProcess(["loadtest/baselines/server.ts", "bare"], env.settings, "/api/logs", true);
    const { result: bare, cpu } = await cpuMeter(shared)({ "baseline server": server }, () =>
      load({ url: `${server.base}/api/logs`, variants: single(keys), durationS, title: "baseline: bare" }),
    ).finally(() => server.stop());
    budgets.push({ stage: "baseline: bare", unit: "request", work: bare.ok, cpu });
    step("gateway alone: single-hit ingest, 50 connections");
    const alone = await stages.singleHit();
    const figures: Figure[] = [
      { what: "bare Fastify route, same schema, no I/O (ceiling)", scope: "baseline", value: bare.requestsPerSec, unit: "req/s" },
      gatewayAloneFigure(alone.requestsPerSec, bare.requestsPerSec),
      ...(await wholeSystemSingleHits({ env, stages, keys, gatewayAlone: alone.requestsPerSec })),
    ];
    await stages.close();
    const parties = ["baseline server", "gateway", "worker", "redis", "postgres", "load generator"];
    process.stdout.write(
      `\n${describeMachine()}\n\n${textTable(figures)}\n\nCPU µs per unit of work, by process (2 cores = 2 s of CPU per second):\n${cpuTable(budgets, parties)}\n`,
    );
  } finally {
    for (const proc of procs.reverse()) await proc.stop();
    await env.cleanup();
  }
};
