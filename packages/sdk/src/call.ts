import { UsageError } from "./errors.ts";
import { backoffMs, type Exchange, exchange, isRetryableStatus, messageOf, type RequestSpec, retryAfterSeconds, sleep } from "./http.ts";

export interface CallSettings {
  fetch: typeof globalThis.fetch;
  timeoutMs: number;
  maxRetries: number;
}

export type Answer = Extract<Exchange, { kind: "answer" }>;

/**
 * One call someone awaits (record, token, reads): retried like a batch (network errors,
 * timeouts, 408, 5xx; a retry-after as the floor) within `deadlineMs` when given. Resolves
 * with any other answer; rejects with a UsageError once it gives up.
 */
export const callWithRetries = async (
  settings: CallSettings,
  spec: RequestSpec,
  options: { deadlineMs?: number; eventIds?: string[] } = {},
): Promise<Answer> => {
  const deadline = options.deadlineMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.deadlineMs;
  let why = "";
  let last: { code: "NETWORK_ERROR" | "TIMEOUT" | "UNAVAILABLE"; status?: number } = { code: "NETWORK_ERROR" };
  for (let attempt = 0; ; attempt++) {
    const left = deadline - Date.now();
    const result = await exchange(settings.fetch, spec, Math.max(1, Math.min(settings.timeoutMs, left)));
    let waitFloorMs = 0;
    if (result.kind === "answer") {
      if (!isRetryableStatus(result.status)) return result;
      why = `HTTP ${result.status}: ${messageOf(result.text, result.status)}`;
      last = { code: result.status === 408 ? "TIMEOUT" : "UNAVAILABLE", status: result.status };
      waitFloorMs = (retryAfterSeconds(result.headers) ?? 0) * 1000;
    } else if (result.kind === "timeout") {
      why = "request timed out";
      last = { code: "TIMEOUT" };
    } else {
      // "network" (no signal is given here, so nothing aborts the call but its own timeout)
      const cause = result.kind === "network" ? (result.error as { cause?: { code?: unknown } }).cause?.code : undefined;
      why = `network error${typeof cause === "string" ? ` (${cause})` : ""}`;
      last = { code: "NETWORK_ERROR" };
    }
    const wait = waitFloorMs + backoffMs(attempt);
    if (attempt >= settings.maxRetries || Date.now() + wait >= deadline) {
      throw new UsageError(last.code, `${spec.method} ${new URL(spec.url).pathname} failed after ${attempt + 1} attempts: ${why}`, {
        outcome: "failed",
        status: last.status,
        eventIds: options.eventIds,
      });
    }
    await sleep(wait, undefined, true);
  }
};
