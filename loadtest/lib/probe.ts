import { Agent, request } from "node:http";

export interface PacedOptions {
  url: string;
  method?: "GET" | "POST";
  /** Body and headers per request, round-robin. */
  variants: ReadonlyArray<{ body?: string; headers: Record<string, string> }>;
  perSecond: number;
  durationS: number;
  /** Calls made one by one before timing starts, not recorded. */
  warmUp?: number;
  /** Keep-alive connections at most; a request due while all are busy waits for one. */
  maxSockets?: number;
  /** Stops sending early when this settles (the run it accompanies is over). */
  until?: Promise<unknown>;
  /** A line on stderr every `progressS` seconds (0: none). */
  progressS?: number;
  title?: string;
}

export interface PacedResult {
  count: number;
  failures: number;
  p50: number;
  p99: number;
  max: number;
  /** Requests sent per second, over the whole run. */
  sentPerSec: number;
}

/** A request unanswered this long counts as failed, so one stuck call cannot hang a run. */
const REQUEST_TIMEOUT_MS = 10_000;

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

/**
 * Requests sent at evenly spaced instants (open loop: each is due at start + i / rate,
 * whatever the earlier ones took), each timed from the instant it was due, so a sender held
 * up by its own scheduling counts that delay too. autocannon's `overallRate` is no
 * use for "a steady half of the max rate": each connection sends its whole second's quota
 * back to back as the second starts, then waits, so the server runs at full speed for part
 * of every second and idles for the rest.
 */
export const paced = async (options: PacedOptions): Promise<PacedResult> => {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 8 });
  const target = new URL(options.url);
  const method = options.method ?? "GET";
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const one = (due = performance.now()): Promise<void> =>
    new Promise((resolve) => {
      const variant = options.variants[next++ % options.variants.length] as { body?: string; headers: Record<string, string> };
      const headers = variant.body === undefined ? variant.headers : { ...variant.headers, "content-type": "application/json" };
      const req = request(
        { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method, headers, agent },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) latencies.push(performance.now() - due);
            else failures++;
            resolve();
          });
        },
      );
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error("timed out")));
      req.on("error", () => {
        failures++;
        resolve();
      });
      req.end(variant.body);
    });
  // Warm-up: the first calls pay for connections, JIT and cold caches, and a client's
  // steady state is what the figure is about.
  for (let i = 0; i < (options.warmUp ?? 0); i++) await one();
  latencies.length = 0;
  failures = 0;
  const pending = new Set<Promise<void>>();
  const total = Math.round(options.perSecond * options.durationS);
  let stopped = false;
  // Both outcomes stop the sender; a rejection is the caller's to report, not an unhandled one here.
  const stop = (): void => {
    stopped = true;
  };
  options.until?.then(stop, stop);
  const started = performance.now();
  let reported = 0;
  let sent = 0;
  for (; sent < total && !stopped; sent++) {
    const due = started + (sent * 1000) / options.perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const call = one(due);
    pending.add(call);
    void call.then(() => pending.delete(call));
    const elapsedS = (performance.now() - started) / 1000;
    if (options.progressS !== undefined && options.progressS > 0 && elapsedS - reported >= options.progressS) {
      reported = elapsedS;
      process.stderr.write(
        `  ${options.title ?? options.url}: ${Math.round(elapsedS)}/${options.durationS} s, ${latencies.length} answered\n`,
      );
    }
  }
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    count: sorted.length,
    failures,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    sentPerSec: sent / seconds,
  };
};

/**
 * A read probe in a child process: in the load generator's process, its timings would
 * include the generator's own event-loop delays.
 */
export const probeInChild = async (url: string, auth: string, perSecond: number, seconds: number): Promise<PacedResult> => {
  const { execFile } = await import("node:child_process");
  const output = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ["loadtest/probe-cli.ts", url, auth, String(perSecond), String(seconds)], (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    ),
  );
  return JSON.parse(output) as PacedResult;
};
