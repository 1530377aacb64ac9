/** One HTTP exchange: an answer with its body read, or why there was none. */
export type Exchange =
  | { kind: "answer"; status: number; headers: Headers; text: string }
  | { kind: "network"; error: unknown }
  | { kind: "timeout" }
  /** The caller gave up (a flush deadline, shutdown): nothing to retry. */
  | { kind: "aborted" };

export interface RequestSpec {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 30_000;

/** Timers that never keep the process alive. */
export const unrefTimer = <T>(timer: T): T => {
  (timer as { unref?: () => void }).unref?.();
  return timer;
};

/** Sends one request with a deadline covering the body; never throws. */
export const exchange = async (
  fetchImpl: typeof globalThis.fetch,
  spec: RequestSpec,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Exchange> => {
  if (signal?.aborted) return { kind: "aborted" };
  const controller = new AbortController();
  let timedOut = false;
  const timer = unrefTimer(
    setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs),
  );
  const onAbort = (): void => controller.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const response = await fetchImpl(spec.url, {
      method: spec.method,
      headers: spec.headers,
      body: spec.body,
      signal: controller.signal,
    });
    const text = await response.text();
    return { kind: "answer", status: response.status, headers: response.headers, text };
  } catch (error) {
    if (timedOut) return { kind: "timeout" };
    if (signal?.aborted) return { kind: "aborted" };
    return { kind: "network", error };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
};

/** Exponential backoff with full jitter: uniform in [0, min(cap, base · 2^attempt)). */
export const backoffMs = (attempt: number, random: () => number = Math.random): number =>
  random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30));

/** `retry-after` in seconds (delta or HTTP date), or undefined. */
export const retryAfterSeconds = (headers: Headers, now = Date.now()): number | undefined => {
  const raw = headers.get("retry-after");
  if (raw === null || raw.trim() === "") return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
};

/** A numeric header, or undefined. */
export const numberHeader = (headers: Headers, name: string): number | undefined => {
  const raw = headers.get(name);
  const value = raw === null || raw.trim() === "" ? Number.NaN : Number(raw);
  return Number.isFinite(value) ? value : undefined;
};

/** Retried: 408 and every 5xx. */
export const isRetryableStatus = (status: number): boolean => status === 408 || status >= 500;

/** The `message` of a contract error body, or the status line. */
export const messageOf = (text: string, status: number): string => {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === "string") return body.message;
  } catch {
    // not JSON: an answer from something in front of the service
  }
  return `HTTP ${status}`;
};

/** Waits `ms` or until `signal` aborts; `keepAlive` for a wait someone awaits (a record, a read). */
export const sleep = (ms: number, signal?: AbortSignal, keepAlive = false): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (!keepAlive) unrefTimer(timer);
    signal?.addEventListener("abort", done, { once: true });
  });
