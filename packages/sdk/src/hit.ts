import type { Hit } from "./types.ts";

/**
 * A hit as the service takes it (`POST /api/logs/batch` item), always with its event id.
 * `timestamp` stays epoch milliseconds until the hit is encoded (see encode.ts): formatting
 * a date costs more than the rest of track() together.
 */
export interface WireHit {
  ip: string;
  endpoint: string;
  timestamp: string | number;
  method: string | undefined;
  status: number | undefined;
  event_id: string;
}

const HTTP_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);
const MAX_ENDPOINT = 2048;

// The addresses Node's net.isIP takes (the gateway's check), without a zone id: the
// service stores hits in an inet column, which has none.
const V4_SEG = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
const V4 = `(?:${V4_SEG}\\.){3}${V4_SEG}`;
const V6_SEG = "(?:[0-9a-fA-F]{1,4})";
const IPV4 = new RegExp(`^${V4}$`);
const IPV6 = new RegExp(
  "^(?:" +
    `(?:${V6_SEG}:){7}(?:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){6}(?:${V4}|:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){5}(?::${V4}|(?::${V6_SEG}){1,2}|:)|` +
    `(?:${V6_SEG}:){4}(?:(?::${V6_SEG}){0,1}:${V4}|(?::${V6_SEG}){1,3}|:)|` +
    `(?:${V6_SEG}:){3}(?:(?::${V6_SEG}){0,2}:${V4}|(?::${V6_SEG}){1,4}|:)|` +
    `(?:${V6_SEG}:){2}(?:(?::${V6_SEG}){0,3}:${V4}|(?::${V6_SEG}){1,5}|:)|` +
    `(?:${V6_SEG}:){1}(?:(?::${V6_SEG}){0,4}:${V4}|(?::${V6_SEG}){1,6}|:)|` +
    `(?::(?:(?::${V6_SEG}){0,5}:${V4}|(?::${V6_SEG}){1,7}|:))` +
    ")$",
);
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// The shape the gateway takes (RFC 3339 with an offset); the calendar checks are its own.
const DATE_TIME = /^\d{4}-\d\d-\d\d[Tt\s]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d(?::?\d\d)?)$/;

export const isIp = (value: string): boolean => IPV4.test(value) || (value.length <= 45 && IPV6.test(value));
export const isUuid = (value: string): boolean => UUID.test(value);

function invalid(what: string): never {
  throw new TypeError(`@usage/sdk: ${what}`);
}

const timestampOf = (value: Hit["timestamp"]): string | number => {
  if (typeof value === "string") {
    if (!DATE_TIME.test(value)) invalid(`hit.timestamp must be an RFC 3339 date-time (got "${value}")`);
    return value;
  }
  const ms = typeof value === "number" ? value : value instanceof Date ? value.getTime() : Number.NaN;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) invalid("hit.timestamp must be a valid Date, epoch milliseconds or string");
  return ms;
};

// Callers repeat: the last address that passed needs no second look.
let lastIp = "";

/**
 * The wire form of a hit, or a TypeError for a hit no server could ever take (a developer's
 * mistake, surfaced at once). Time-dependent checks (a timestamp too old) are the server's.
 */
export const toWireHit = (hit: Hit, newId: () => string): WireHit => {
  if (hit === null || typeof hit !== "object") invalid("a hit must be an object");
  const { endpoint, ip, method, status, eventId, timestamp } = hit;
  if (typeof endpoint !== "string" || endpoint.charCodeAt(0) !== 47 || endpoint.length > MAX_ENDPOINT || endpoint.includes("\0")) {
    invalid(`hit.endpoint must start with "/", be at most ${MAX_ENDPOINT} characters and hold no NUL (got ${JSON.stringify(endpoint)})`);
  }
  if (ip !== lastIp) {
    if (typeof ip !== "string" || !isIp(ip)) invalid(`hit.ip must be an IPv4 or IPv6 address (got ${JSON.stringify(ip)})`);
    lastIp = ip;
  }
  let verb: string | undefined;
  if (method !== undefined) {
    verb = typeof method === "string" ? (HTTP_METHODS.has(method) ? method : method.toUpperCase()) : "";
    if (!HTTP_METHODS.has(verb)) invalid(`hit.method must be an HTTP method (got ${JSON.stringify(method)})`);
  }
  if (status !== undefined && (!Number.isInteger(status) || status < 100 || status > 599)) {
    invalid(`hit.status must be an integer 100..599 (got ${status})`);
  }
  if (eventId !== undefined && (typeof eventId !== "string" || !UUID.test(eventId))) {
    invalid(`hit.eventId must be a UUID (got ${JSON.stringify(eventId)})`);
  }
  return {
    ip,
    endpoint,
    timestamp: timestamp === undefined ? Date.now() : timestampOf(timestamp),
    method: verb,
    status,
    event_id: eventId ?? newId(),
  };
};
