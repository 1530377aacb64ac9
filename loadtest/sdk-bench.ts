import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { call } from "@usage/testkit";
import { UsageClient } from "../packages/sdk/src/index.ts";
import { createBenchEnv, type Proc, startProcess } from "./lib/env.ts";
import { load } from "./lib/load.ts";
import { type Figure, textTable } from "./lib/report.ts";

/**
 * `pnpm exec node loadtest/sdk-bench.ts [--duration 3] [--rounds 4] [--calls 2000000] [--connections 8]`:
 * what `track()` costs per call, and the hits per second one SDK instance delivers to a
 * spawned gateway beside autocannon posting the same 500-hit batches in the same run; the
 * same two figures for the Go SDK (sdk/go, through its cmd/usage-bench) when `go` is on the
 * PATH. Throughput windows alternate (autocannon, SDK, Go, then the other way round, …).
 * Bounded: about 70 s with the defaults, stopped at 120 s whatever happens.
 */
const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "3" },
    rounds: { type: "string", default: "4" },
    calls: { type: "string", default: "2000000" },
    connections: { type: "string", default: "8" },
  },
});
const D = Number(values.duration);
const ROUNDS = Number(values.rounds);
const CALLS = Number(values.calls);
const CONNECTIONS = Number(values.connections);
if (
  !(D >= 2 && D <= 20) ||
  !(ROUNDS >= 1 && ROUNDS <= 8 && ROUNDS * D <= 16) ||
  !(CALLS >= 100_000) ||
  !(CONNECTIONS >= 1 && CONNECTIONS <= 64)
) {
  process.stderr.write(
    "usage: node loadtest/sdk-bench.ts [--duration 2..20] [--rounds 1..8, rounds × duration ≤ 16] [--calls ≥100000] [--connections 1..64]\n",
  );
  process.exit(2);
}
const step = (text: string): void => void process.stderr.write(`\n▶ ${text}\n`);
const progress = (text: string): void => void process.stderr.write(`  ${text}\n`);
const BATCH = 500;
const cpuShare = (used: NodeJS.CpuUsage, seconds: number): number => (used.user + used.system) / 1e6 / seconds;
const hitOf = () => ({ endpoint: "/v1/orders/:id", ip: "203.0.113.7", method: "GET", status: 200 });

const procs: Proc[] = [];
const watchdog = setTimeout(() => {
  process.stderr.write("\nsdk-bench: over 120 s, stopping\n");
  for (const proc of procs) proc.child.kill("SIGKILL");
  process.exit(1);
}, 120_000);
watchdog.unref();

/** ns per track() call (the hit literal included), over rounds of 100,000 into a fresh client; the first round warms up. */
const measureTrack = async (calls: number): Promise<{ mean: number; best: number }> => {
  const ROUND = 100_000;
  // Nothing is sent: a fetch that only ends when aborted, so the loop measures track() alone.
  const stuck: typeof fetch = (_input, init) =>
    new Promise((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(new Error("aborted"))));
  let total = 0;
  let best = Number.POSITIVE_INFINITY;
  const rounds = Math.ceil(calls / ROUND);
  for (let round = 0; round <= rounds; round++) {
    const usage = new UsageClient({
      baseUrl: "http://127.0.0.1:9",
      apiKey: "uk_bench",
      fetch: stuck,
      maxQueueSize: ROUND,
      onError: () => {},
    });
    const started = process.hrtime.bigint();
    for (let i = 0; i < ROUND; i++) usage.track({ endpoint: "/v1/orders/:id", ip: "203.0.113.7", method: "GET", status: 200 });
    const ns = Number(process.hrtime.bigint() - started);
    if (usage.stats().queued !== ROUND) throw new Error(`round ${round}: ${usage.stats().queued} hits held, expected ${ROUND}`);
    if (round > 0) {
      total += ns;
      best = Math.min(best, ns / ROUND);
    }
    await usage.shutdown({ timeoutMs: 0 });
    if (round % 5 === 0) progress(`${(round * ROUND).toLocaleString("en-US")} calls…`);
  }
  return { mean: total / (rounds * ROUND), best };
};

interface Window {
  hitsPerSecond: number;
  /** Share of a core this process used meanwhile. */
  cpu: number;
}

/**
 * One SDK instance fed as fast as it delivers. The feeder tops the buffer up a batch at a
 * time, and sleeps a millisecond when it is full (a producer that spun would take a core
 * from the gateway on a small machine).
 * A window counts the hits acknowledged within it, then waits for the rest, so that no
 * request of it overlaps the next window.
 */
const sdkFeeder = (base: string, apiKey: string) => {
  let errors = 0;
  const usage = new UsageClient({ baseUrl: base, apiKey, flushAt: BATCH, concurrency: CONNECTIONS, onError: () => errors++ });
  const feed = async (seconds: number): Promise<number> => {
    const sentBefore = usage.stats().sent;
    const started = performance.now();
    let nextReport = started + 1000;
    while (performance.now() < started + seconds * 1000) {
      const { queued, inFlight } = usage.stats();
      // Enough buffered for every slot to have its next batch ready, no more; one batch's
      // worth at a time, then I/O may run (as tracks spread over a server's requests would).
      if (queued + inFlight < 2 * CONNECTIONS * BATCH) {
        for (let i = 0; i < BATCH; i++) usage.track(hitOf());
        await new Promise((resolve) => setImmediate(resolve));
      } else await new Promise((resolve) => setTimeout(resolve, 1));
      if (performance.now() >= nextReport) {
        progress(
          `${Math.round((nextReport - started) / 1000)} s: ${(usage.stats().sent - sentBefore).toLocaleString("en-US")} hits acknowledged`,
        );
        nextReport += 1000;
      }
    }
    return usage.stats().sent - sentBefore;
  };
  return {
    get errors() {
      return errors;
    },
    async window(seconds: number): Promise<Window> {
      const cpu = process.cpuUsage();
      const sent = await feed(seconds);
      const used = cpuShare(process.cpuUsage(cpu), seconds);
      await usage.flush({ timeoutMs: 10_000 });
      return { hitsPerSecond: sent / seconds, cpu: used };
    },
    close: () => usage.shutdown({ timeoutMs: 10_000 }),
  };
};

/** The Go SDK's bench command, built once into a temp dir; undefined without Go. */
const buildGoBench = (): { run: (args: string[]) => Record<string, number>; remove: () => void } | undefined => {
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
  } catch {
    progress("no Go on the PATH: the Go SDK's figures are left out");
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), "usage-go-bench-"));
  const binary = join(dir, "usage-bench");
  execFileSync("go", ["build", "-o", binary, "./cmd/usage-bench"], {
    cwd: "sdk/go",
    env: { ...process.env, GOPROXY: "off" },
    stdio: "inherit",
  });
  return {
    run: (args) => JSON.parse(execFileSync(binary, args, { encoding: "utf8" })) as Record<string, number>,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
};

const figures: Figure[] = [];
step(`track(): ${CALLS.toLocaleString("en-US")} calls`);
const track = await measureTrack(CALLS);
figures.push({ what: "track() per call, mean", scope: "sdk alone", value: track.mean, unit: "ns", target: { max: 1000 } });
figures.push({ what: "track() per call, best round", scope: "sdk alone", value: track.best, unit: "ns" });

step("building the Go SDK's bench command (sdk/go/cmd/usage-bench)");
const goBench = buildGoBench();
if (goBench !== undefined) {
  step("Go Track(): 1,000,000 calls");
  const goTrack = goBench.run(["-mode", "track", "-calls", "1000000"]);
  figures.push({ what: "Go Track() per call", scope: "sdk alone", value: goTrack.nsPerCall as number, unit: "ns", target: { max: 1000 } });
}

const env = await createBenchEnv(false);
try {
  step("starting a gateway (no worker: the queue fills Redis for the run, removed at the end)");
  const gateway = await startProcess(["apps/gateway/src/server.ts"], env.settings, "/health", false);
  procs.push(gateway);
  const registered = await call(gateway.base, "POST", "/api/register", { name: "sdk-bench", email: `sdk-bench-${Date.now()}@example.com` });
  const apiKey = registered.body.api_key as string;
  // The SDK's batches as they go out: every hit with its own event_id (the gateway keeps an
  // idempotency marker per id, which hits without one do not cost), one body per request.
  const BODIES = 3000;
  step(`preparing ${BODIES.toLocaleString("en-US")} distinct batch bodies for autocannon`);
  const timestamp = new Date().toISOString();
  const bodies = Array.from({ length: BODIES }, () =>
    JSON.stringify({ hits: Array.from({ length: BATCH }, () => ({ ...hitOf(), timestamp, event_id: randomUUID() })) }),
  );
  const cannon = (seconds: number, pool: string[]) =>
    load({
      url: `${gateway.base}/api/logs/batch`,
      variants: pool.map((body) => ({ body, headers: { "x-api-key": apiKey } })),
      connections: CONNECTIONS,
      durationS: seconds,
      title: "autocannon",
      quiet: true,
    });
  const sdk = sdkFeeder(gateway.base, apiKey);

  step("warm-up: 2 s of autocannon, 2 s of the SDK");
  await cannon(2, bodies.slice(-200));
  await sdk.window(2);

  // Alternated, A B B A A B B A…, so that drift of the machine (other work, Redis growing)
  // weighs on both alike, and the noise of a shared machine averages out over several windows.
  let next = 0;
  const cannonWindow = async (): Promise<Window> => {
    step(`autocannon: POST /api/logs/batch ×${BATCH}, ${CONNECTIONS} connections, ${D} s`);
    const cpu = process.cpuUsage();
    const pool = bodies.slice(next, BODIES - 200);
    const result = await cannon(D, pool);
    next += result.ok + result.non2xx;
    if (next > BODIES - 200) progress("(more requests than distinct bodies: some hits were duplicates, which cost the gateway less)");
    const window = { hitsPerSecond: (result.ok * BATCH) / D, cpu: cpuShare(process.cpuUsage(cpu), D) };
    progress(`${Math.round(window.hitsPerSecond).toLocaleString("en-US")} hits/s (${result.non2xx} non-2xx, ${result.errors} errors)`);
    return window;
  };
  const sdkWindow = async (): Promise<Window> => {
    step(`one UsageClient: flushAt ${BATCH}, concurrency ${CONNECTIONS}, ${D} s`);
    const window = await sdk.window(D);
    progress(`${Math.round(window.hitsPerSecond).toLocaleString("en-US")} hits/s acknowledged`);
    return window;
  };
  const goWindow = async (): Promise<Window> => {
    step(`one Go client (sdk/go): FlushAt ${BATCH}, MaxInFlight ${CONNECTIONS}, ${D} s`);
    const result = (goBench as NonNullable<typeof goBench>).run([
      "-url",
      gateway.base,
      "-key",
      apiKey,
      "-seconds",
      String(D),
      "-in-flight",
      String(CONNECTIONS),
    ]);
    progress(`${Math.round(result.hitsPerSecond as number).toLocaleString("en-US")} hits/s acknowledged (${result.errors} errors)`);
    // The Go process's CPU is its own, not this one's.
    return { hitsPerSecond: result.hitsPerSecond as number, cpu: 0 };
  };
  const windows: { cannon: Window[]; sdk: Window[]; go: Window[] } = { cannon: [], sdk: [], go: [] };
  const order: Array<() => Promise<void>> = [
    async () => void windows.cannon.push(await cannonWindow()),
    async () => void windows.sdk.push(await sdkWindow()),
    ...(goBench === undefined ? [] : [async () => void windows.go.push(await goWindow())]),
  ];
  for (let round = 0; round < ROUNDS; round++) {
    for (const run of round % 2 === 0 ? order : [...order].reverse()) await run();
  }
  await sdk.close();
  const mean = (list: Window[], key: keyof Window): number => list.reduce((sum, w) => sum + w[key], 0) / list.length;
  progress(
    `this process used ${Math.round(mean(windows.cannon, "cpu") * 100)} % of a core under autocannon, ${Math.round(mean(windows.sdk, "cpu") * 100)} % under the SDK`,
  );

  figures.push({
    what: `autocannon, hits/s (${CONNECTIONS} connections, mean of ${ROUNDS})`,
    scope: "baseline",
    value: mean(windows.cannon, "hitsPerSecond"),
    unit: "hits/s",
  });
  figures.push({
    what: `SDK delivery, hits/s (${CONNECTIONS} in flight, mean of ${ROUNDS})`,
    scope: "gateway alone",
    value: mean(windows.sdk, "hitsPerSecond"),
    unit: "hits/s",
    baseline: { what: "autocannon, same batches", value: mean(windows.cannon, "hitsPerSecond") },
    target: { min: 0.9, ofBaseline: true },
  });
  if (windows.go.length > 0) {
    figures.push({
      what: `Go SDK delivery, hits/s (${CONNECTIONS} in flight, mean of ${ROUNDS})`,
      scope: "gateway alone",
      value: mean(windows.go, "hitsPerSecond"),
      unit: "hits/s",
      baseline: { what: "autocannon, same batches", value: mean(windows.cannon, "hitsPerSecond") },
      target: { min: 0.9, ofBaseline: true },
    });
  }
  process.stdout.write(`\n${textTable(figures)}\n`);
  if (sdk.errors > 0) process.stdout.write(`(the SDK reported ${sdk.errors} errors)\n`);
} finally {
  for (const proc of procs) await proc.stop();
  await env.cleanup();
  goBench?.remove();
  clearTimeout(watchdog);
}
