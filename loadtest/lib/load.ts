import autocannon, { type Result } from "autocannon";

export interface LoadOptions {
  url: string;
  method?: "GET" | "POST";
  /** Body and headers per request, round-robin over `variants`. */
  variants: Array<{ body?: string; headers: Record<string, string> }>;
  connections?: number;
  durationS: number;
  title: string;
  quiet?: boolean;
}

export interface LoadResult {
  requestsPerSec: number;
  ok: number;
  non2xx: number;
  errors: number;
  latencyP50: number;
  latencyP99: number;
  raw: Result;
}

/** Runs autocannon with a progress bar on stderr; counts only 2xx answers as done work. */
export const load = async (options: LoadOptions): Promise<LoadResult> => {
  let next = 0;
  const raw = await new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: options.method ?? "POST",
        connections: options.connections ?? 50,
        duration: options.durationS,
        requests: [
          {
            setupRequest: (request) => {
              const variant = options.variants[next++ % options.variants.length] as { body?: string; headers: Record<string, string> };
              const headers = { ...variant.headers, ...(variant.body === undefined ? {} : { "content-type": "application/json" }) };
              return { ...request, headers, ...(variant.body === undefined ? {} : { body: variant.body }) };
            },
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    if (!options.quiet) {
      process.stderr.write(`  ${options.title}\n`);
      autocannon.track(instance, {
        renderProgressBar: process.stderr.isTTY === true,
        renderResultsTable: false,
        renderLatencyTable: false,
        outputStream: process.stderr,
      });
    }
  });
  const ok = raw["2xx"];
  return {
    requestsPerSec: ok / options.durationS,
    ok,
    non2xx: raw.non2xx,
    errors: raw.errors + raw.timeouts,
    latencyP50: raw.latency.p50,
    latencyP99: raw.latency.p99,
    raw,
  };
};
