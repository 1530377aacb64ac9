import type { UsageClient } from "./client.ts";
import { UsageError } from "./errors.ts";
import { REPORT } from "./internal.ts";
import type { Hit, RecordResult } from "./types.ts";

/** Options shared by the Fastify plugin and the Express middleware. */
export interface MiddlewareOptions<Request> {
  client: UsageClient;
  /** The caller's API key, usually a header; a request without one passes untracked. */
  apiKey: (request: Request) => string | readonly string[] | null | undefined;
  /** Check and count each request before its handler; answer 429 (with retry-after) over quota. */
  enforce?: boolean;
  /** With `enforce`: how long a request may wait for the quota check before it is let through (default 2000 ms). */
  enforceTimeoutMs?: number;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);
const MAX_ENDPOINT = 2048;

export const DEFAULT_ENFORCE_TIMEOUT_MS = 2000;

/** The key as a string, whatever the user's function returns or throws. */
export const keyOf = <Request>(options: MiddlewareOptions<Request>, request: Request): string | undefined => {
  try {
    const value = options.apiKey(request);
    const key = typeof value === "string" ? value : Array.isArray(value) ? value[0] : undefined;
    return typeof key === "string" && key !== "" ? key : undefined;
  } catch (error) {
    report(options.client, "the apiKey function threw: request not tracked", error);
    return undefined;
  }
};

/** The route's pattern when there is one, else the path without its query, as the contract takes it. */
export const endpointOf = (pattern: string | undefined, url: string): string => {
  let endpoint = pattern !== undefined && pattern !== "" ? pattern : url.split("?", 1)[0] || "/";
  if (endpoint.charCodeAt(0) !== 47) endpoint = `/${endpoint}`;
  if (endpoint.includes("\0")) endpoint = endpoint.replaceAll("\0", "");
  return endpoint.length > MAX_ENDPOINT ? endpoint.slice(0, MAX_ENDPOINT) : endpoint;
};

/** The caller's address without an IPv6 zone (the service stores inet, which has none). */
export const ipOf = (ip: string | undefined): string | undefined => {
  if (ip === undefined || ip === "") return undefined;
  const zone = ip.indexOf("%");
  return zone === -1 ? ip : ip.slice(0, zone);
};

export const hitOf = (method: string, endpoint: string, ip: string | undefined, status?: number, eventId?: string): Hit | undefined => {
  const address = ipOf(ip);
  if (address === undefined) return undefined;
  const hit: Hit = { endpoint, ip: address };
  if (METHODS.has(method)) hit.method = method;
  if (status !== undefined && status >= 100 && status <= 599) hit.status = status;
  if (eventId !== undefined) hit.eventId = eventId;
  return hit;
};

/** Tracks a request the server answered; never throws. */
export const trackAnswered = (client: UsageClient, apiKey: string, hit: Hit | undefined): void => {
  if (hit === undefined) {
    report(client, "request without a caller address: not tracked");
    return;
  }
  try {
    client.track(hit, { apiKey });
  } catch (error) {
    report(client, "request not tracked", error);
  }
};

/**
 * With `enforce`: counted (let through), over quota (answer 429), or unknown (the service
 * did not answer in time: let through, and track it after the response with the same event
 * id, so it is counted once whatever the check did).
 */
export type Verdict = { kind: "counted"; result: RecordResult } | { kind: "over"; result: RecordResult } | { kind: "unknown" };

export const check = async (client: UsageClient, apiKey: string, hit: Hit | undefined, timeoutMs: number): Promise<Verdict> => {
  if (hit === undefined) return { kind: "unknown" };
  try {
    const result = await client.record(hit, { apiKey, timeoutMs });
    return { kind: result.accepted ? "counted" : "over", result };
  } catch {
    // record() reported it through onError already
    return { kind: "unknown" };
  }
};

export const quotaHeaders = (result: RecordResult): Record<string, string> => ({
  "x-ratelimit-limit": String(result.limit),
  "x-ratelimit-remaining": String(result.remaining),
  "x-ratelimit-reset": String(result.resetSeconds),
});

export const tooManyRequests = (result: RecordResult) => ({
  headers: { ...quotaHeaders(result), "retry-after": String(Math.max(1, result.resetSeconds)) },
  body: {
    statusCode: 429,
    code: "RATE_LIMITED",
    error: "Too Many Requests",
    message: `quota of ${result.limit} requests per hour exceeded, retry in ${Math.max(1, result.resetSeconds)} s`,
  },
});

export const report = (client: UsageClient, message: string, cause?: unknown): void => {
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  try {
    client[REPORT](new UsageError("VALIDATION_ERROR", `middleware: ${message}${detail}`, { outcome: "dropped", count: 1, cause }));
  } catch {
    // never into the request path
  }
};
