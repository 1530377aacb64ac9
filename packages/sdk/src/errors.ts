/** Why hits were given up, or why a call failed. */
export const ERROR_CODES = [
  // Given up without an answer (stats().dropped).
  "QUEUE_FULL",
  "SHUT_DOWN",
  "RETRIES_EXHAUSTED",
  "DEADLINE",
  // Refused by the service (stats().rejected), or a call that failed.
  "RATE_LIMITED",
  "VALIDATION_ERROR",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "PAYLOAD_TOO_LARGE",
  "HTTP_ERROR",
  // A failure that will be retried, or a call that could not reach the service.
  "NETWORK_ERROR",
  "TIMEOUT",
  "UNAVAILABLE",
  // stream() on a runtime without a WebSocket and without the ws package.
  "UNSUPPORTED",
] as const;
export type UsageErrorCode = (typeof ERROR_CODES)[number];

/** What became of the hits an error is about. */
export type UsageErrorOutcome = "dropped" | "rejected" | "retrying" | "failed";

export interface UsageErrorDetails {
  outcome: UsageErrorOutcome;
  /** HTTP status of the answer, when there was one. */
  status?: number;
  /** How many hits this is about (0 for a read). */
  count?: number;
  /** Their event ids (at most 1000 per error; `count` is exact). */
  eventIds?: string[];
  /** Seconds the service asked to wait (retry-after), when it did. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/** Every failure the client reports, through `onError` or a rejected promise. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code: UsageErrorCode;
  readonly outcome: UsageErrorOutcome;
  readonly status: number | undefined;
  readonly count: number;
  readonly eventIds: string[];
  readonly retryAfterSeconds: number | undefined;

  constructor(code: UsageErrorCode, message: string, details: UsageErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.outcome = details.outcome;
    this.status = details.status;
    this.eventIds = details.eventIds ?? [];
    this.count = details.count ?? this.eventIds.length;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

export const isUsageError = (error: unknown): error is UsageError => error instanceof UsageError;

/** The contract's error code for an HTTP status, for answers without a body we can read. */
export const codeOfStatus = (status: number): UsageErrorCode => {
  if (status === 400) return "VALIDATION_ERROR";
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "FORBIDDEN";
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 429) return "RATE_LIMITED";
  if (status === 408) return "TIMEOUT";
  if (status >= 500) return "UNAVAILABLE";
  return "HTTP_ERROR";
};
