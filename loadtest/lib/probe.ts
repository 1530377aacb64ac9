import { Agent, request } from "node:http";

export interface ProbeResult {
  count: number;
  failures: number;
  p50: number;
  p99: number;
  max: number;
}

const WARM_UP_CALLS = 200;

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

/**
 * Latency of single GETs sent at a fixed rate, each timed on its own (autocannon's rate
 * limiter sends in bursts and adds its own waiting to what it reports, ~14 ms at p99 even
 * against a route doing nothing). Keep-alive connections, like a dashboard's.
 */
export const probeLatency = async (
  url: string,
  headers: Record<string, string>,
  perSecond: number,
  durationS: number,
): Promise<ProbeResult> => {
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 8 });
  const latencies: number[] = [];
  let failures = 0;
  const target = new URL(url);
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const started = performance.now();
      const req = request(
        { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, headers, agent: keepAlive },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode === 200) latencies.push(performance.now() - started);
            else failures++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        failures++;
        resolve();
      });
      req.end();
    });
  // Warm-up, not recorded: the first calls pay for connections, JIT and cold caches, and
  // a dashboard's steady state is what the figure is about.
  for (let i = 0; i < WARM_UP_CALLS; i++) await one();
  latencies.length = 0;
  failures = 0;
  const pending: Array<Promise<void>> = [];
  const total = Math.round(perSecond * durationS);
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(one());
  }
  await Promise.all(pending);
  keepAlive.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    count: sorted.length,
    failures,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
};

/**
 * The probe in a child process: in the load generator's process, its timings would include
 * the generator's own event-loop delays.
 */
export const probeInChild = async (url: string, auth: string, perSecond: number, seconds: number): Promise<ProbeResult> => {
  const { execFile } = await import("node:child_process");
  const output = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ["loadtest/probe-cli.ts", url, auth, String(perSecond), String(seconds)], (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    ),
  );
  return JSON.parse(output) as ProbeResult;
};
