import type { UsageError } from "./errors.ts";

/** One hit of the metered API, as the caller describes it. */
export interface Hit {
  /** Path that was hit; starts with "/". Prefer the route's pattern (`/v1/orders/:id`). */
  endpoint: string;
  /** IPv4 or IPv6 address of the caller of the metered API. */
  ip: string;
  /** HTTP method, upper case. */
  method?: string;
  /** HTTP status, 100..599. */
  status?: number;
  /** When the hit happened; now when omitted. */
  timestamp?: Date | string | number;
  /** Idempotency key (a UUID); generated when omitted. */
  eventId?: string;
}

export interface KeyOption {
  /** The API key to send this with; the client's `apiKey` when omitted. */
  apiKey?: string;
}

export interface UsageClientOptions {
  /** Where the service is, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Default API key; any call may name another with `{ apiKey }`. */
  apiKey?: string;
  /** Hits per batch request, 1..1000 (default 500). */
  flushAt?: number;
  /** Longest a hit waits in the buffer before it is sent, in ms (default 1000). */
  flushIntervalMs?: number;
  /** Hits held in memory (buffered or being sent); beyond it new hits are dropped (default 100 000). */
  maxQueueSize?: number;
  /** Retries of one batch (or one `record()`) before it is dropped (default 10). */
  maxRetries?: number;
  /** Deadline of one HTTP request, in ms (default 10 000). */
  timeoutMs?: number;
  /** Largest batch body in bytes (default 512 KiB); kept under the gateway's body limit. */
  maxBatchBytes?: number;
  /** Batch requests in flight at once (default 4). */
  concurrency?: number;
  /** Every drop and every failure is reported here. Whatever it throws is ignored. */
  onError?: (error: UsageError) => void;
  /** The `fetch` to use (default: the platform's). */
  fetch?: typeof globalThis.fetch;
}

export interface UsageStats {
  /** Hits buffered, not yet in a request. */
  queued: number;
  /** Hits in a request, or waiting to be retried. */
  inFlight: number;
  /** Hits acknowledged with 202 (duplicates included). */
  sent: number;
  /** Of `sent`, hits the service had already recorded (same event id): counted once. */
  duplicates: number;
  /** Hits sent again (after a network error, a timeout, a 408 or 5xx, a 413 split or a 429 resend). */
  retried: number;
  /** Hits the service refused for good (400, 401, 403, over quota). */
  rejected: number;
  /** Hits given up without an answer (queue full, retries exhausted, deadline, after shutdown). */
  dropped: number;
}

export interface FlushOptions {
  /** Hard deadline in ms (default 10 000); what is still held then is dropped and reported. */
  timeoutMs?: number;
}

/** What happened to the hits a `flush()` or `shutdown()` waited for. */
export interface FlushResult {
  sent: number;
  rejected: number;
  dropped: number;
}

export interface RecordOptions extends KeyOption {
  /** Overall deadline of the call, retries included, in ms (default: no deadline beyond the retries). */
  timeoutMs?: number;
}

export interface RecordResult {
  /** The hit was counted (or had been: a duplicate). False when over quota. */
  accepted: boolean;
  duplicate: boolean;
  /** The hit's event id. */
  id: string;
  limit: number;
  remaining: number;
  /** Seconds until the quota resets. */
  resetSeconds: number;
}

export interface DayCount {
  date: string;
  total_requests: number;
}

export interface DailyUsage {
  data: Array<{ client_id: string; name: string; days: DayCount[] }>;
  next_cursor: string | null;
}

export interface TopUsage {
  window: { from: string; to: string };
  data: Array<{ client_id: string; name: string; total_requests: number }>;
}

export interface DailyOptions extends KeyOption {
  /** Clients per page (admin), 1..1000. */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
}

export interface TopOptions extends KeyOption {
  /** Rows, 1..100 (default 3). */
  limit?: number;
}

export interface UsageSnapshot {
  type: "usage.snapshot";
  date: string;
  data: Array<{ client_id: string; total_requests: number }>;
}

export interface UsageUpdated {
  type: "usage.updated";
  client_id: string;
  date: string;
  delta: number;
  total_requests: number;
}

export type UsageEvent = UsageSnapshot | UsageUpdated;

export interface StreamOptions extends KeyOption {
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
}
