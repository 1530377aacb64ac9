import { codeOfStatus, type UsageErrorCode } from "./errors.ts";
import { type Exchange, isRetryableStatus, messageOf, numberHeader, retryAfterSeconds } from "./http.ts";

/** What to do with a batch after one exchange with `POST /api/logs/batch`. */
export type BatchDecision =
  | { action: "sent"; duplicates: number }
  /** Network error, timeout, 408, 5xx: the same batch again after a wait. */
  | { action: "retry"; code: UsageErrorCode; message: string; status?: number; retryAfterSeconds?: number }
  /** 413: send each half on its own. */
  | { action: "split"; message: string }
  /** 429: the first `keep` hits fit the quota left (send them again now), the rest are rejected. */
  | { action: "fit"; keep: number; message: string; retryAfterSeconds?: number }
  /** 400 naming one hit: reject it, send the others. */
  | { action: "reject-one"; index: number; message: string }
  | { action: "reject"; code: UsageErrorCode; status: number; message: string };

// Fastify's validation paths and the gateway's own checks name a hit as `body/hits/<i>`.
const HIT_INDEX = /(?:^|[\s'"])\/?body\/hits\/(\d+)(?:[/\s'"]|$)/;

const DUPLICATES = /"duplicates"\s*:\s*(\d+)/;

export const hitIndexOf = (message: string): number | undefined => {
  const match = HIT_INDEX.exec(message);
  return match === null ? undefined : Number(match[1]);
};

export const decideBatch = (exchange: Exchange, size: number): BatchDecision => {
  if (exchange.kind === "network") {
    const cause = (exchange.error as { cause?: { code?: unknown } }).cause?.code;
    return { action: "retry", code: "NETWORK_ERROR", message: `network error${typeof cause === "string" ? ` (${cause})` : ""}` };
  }
  if (exchange.kind === "timeout" || exchange.kind === "aborted") return { action: "retry", code: "TIMEOUT", message: "request timed out" };
  const { status, headers, text } = exchange;
  if (status >= 200 && status < 300) {
    // The only figure needed from `{ accepted, duplicates, ids }`: not worth parsing 500 ids for.
    // A 2xx is an acknowledgement whatever its body.
    return { action: "sent", duplicates: Number(DUPLICATES.exec(text)?.[1] ?? 0) };
  }
  const message = messageOf(text, status);
  if (status === 413) return { action: "split", message };
  if (status === 429) {
    const remaining = numberHeader(headers, "x-ratelimit-remaining") ?? 0;
    return {
      action: "fit",
      keep: Math.max(0, Math.min(size, Math.floor(remaining))),
      message,
      retryAfterSeconds: retryAfterSeconds(headers),
    };
  }
  if (status === 400) {
    const index = hitIndexOf(message);
    if (index !== undefined && index < size) return { action: "reject-one", index, message };
  }
  if (isRetryableStatus(status))
    return { action: "retry", code: codeOfStatus(status), status, message, retryAfterSeconds: retryAfterSeconds(headers) };
  return { action: "reject", code: codeOfStatus(status), status, message };
};
