import type { UsageError } from "./errors.ts";
import type { UsageClientOptions } from "./types.ts";

export interface ResolvedOptions {
  baseUrl: string;
  apiKey: string | undefined;
  flushAt: number;
  flushIntervalMs: number;
  maxQueueSize: number;
  maxRetries: number;
  timeoutMs: number;
  maxBatchBytes: number;
  concurrency: number;
  onError: (error: UsageError) => void;
  fetch: typeof globalThis.fetch;
}

const integer = (name: string, value: number | undefined, fallback: number, min: number, max: number): number => {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`@usage/sdk: ${name} must be an integer from ${min} to ${max} (got ${value})`);
  }
  return value;
};

/**
 * Without an onError, failures that lose hits still show: one console warning at most every
 * 10 s (retries are not warned about; they may still succeed).
 */
const warnSometimes = (): ((error: UsageError) => void) => {
  let lastAt = Number.NEGATIVE_INFINITY;
  let quiet = 0;
  return (error) => {
    if (error.outcome === "retrying") return;
    const now = Date.now();
    if (now - lastAt < 10_000) {
      quiet++;
      return;
    }
    console.warn(`@usage/sdk: ${error.message}${quiet > 0 ? ` (and ${quiet} more reports since the last warning)` : ""}`);
    lastAt = now;
    quiet = 0;
  };
};

/** Every option checked once, with its default; a bad one is a TypeError naming it. */
export const resolveOptions = (options: UsageClientOptions): ResolvedOptions => {
  if (options === null || typeof options !== "object") throw new TypeError("@usage/sdk: UsageClient needs options ({ baseUrl, apiKey })");
  let url: URL;
  try {
    url = new URL(options.baseUrl);
  } catch {
    throw new TypeError(`@usage/sdk: baseUrl must be an absolute http(s) URL (got ${JSON.stringify(options.baseUrl)})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError("@usage/sdk: baseUrl must be http: or https:");
  if (options.apiKey !== undefined && (typeof options.apiKey !== "string" || options.apiKey === "")) {
    throw new TypeError("@usage/sdk: apiKey must be a non-empty string");
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== "function") throw new TypeError("@usage/sdk: no fetch on this runtime: pass options.fetch");
  return {
    baseUrl: url.toString().replace(/\/+$/, ""),
    apiKey: options.apiKey,
    flushAt: integer("flushAt", options.flushAt, 500, 1, 1000),
    flushIntervalMs: integer("flushIntervalMs", options.flushIntervalMs, 1000, 1, 3_600_000),
    maxQueueSize: integer("maxQueueSize", options.maxQueueSize, 100_000, 1, 100_000_000),
    maxRetries: integer("maxRetries", options.maxRetries, 10, 0, 1000),
    timeoutMs: integer("timeoutMs", options.timeoutMs, 10_000, 1, 3_600_000),
    maxBatchBytes: integer("maxBatchBytes", options.maxBatchBytes, 512 * 1024, 8 * 1024, 64 * 1024 * 1024),
    concurrency: integer("concurrency", options.concurrency, 4, 1, 64),
    onError: options.onError ?? warnSometimes(),
    fetch: fetchImpl,
  };
};
