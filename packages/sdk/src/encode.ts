import type { WireHit } from "./hit.ts";

/**
 * Batch bodies written straight into bytes: `{"hits":[…]}` with each hit's fields copied
 * character by character. Every field but the endpoint (and a caller's own timestamp string)
 * was checked to be ASCII that JSON takes as it is; those two are escaped when they need to
 * be. Per hit, no string is made and nothing is left for the garbage collector: building the
 * same body as strings (a JSON text per hit, joined, then encoded) cost three times as much.
 */

const OPEN = '{"hits":[';
const CLOSE = "]}";
const F_IP = '{"ip":"';
const F_ENDPOINT = '","endpoint":';
const F_TIMESTAMP = ',"timestamp":';
const F_EVENT = ',"event_id":"';
const F_METHOD = '","method":"';
const F_STATUS = '","status":';
const F_END_QUOTED = '"}';
const F_END = "}";
/** Room a hit may take beyond its endpoint and timestamp (fields, ip, id, method, status, separators). */
const FIXED_ROOM = 192;
/** Room for the largest hit a caller can make with an ordinary timestamp: an endpoint of 2048 units, all escaped. */
export const LARGEST_HIT = FIXED_ROOM + 2048 * 6;

const encoder = new TextEncoder();

const ascii = (buffer: Uint8Array, at: number, text: string): number => {
  for (let i = 0; i < text.length; i++) buffer[at + i] = text.charCodeAt(i);
  return at + text.length;
};

/** A JSON string of `text`, escaped as JSON.stringify does when it has to be. */
const jsonString = (buffer: Uint8Array, at: number, text: string): number => {
  buffer[at] = 34;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 34 || code === 92) {
      return at + encoder.encodeInto(JSON.stringify(text), buffer.subarray(at)).written;
    }
    buffer[at + 1 + i] = code;
  }
  buffer[at + 1 + text.length] = 34;
  return at + text.length + 2;
};

const digits2 = (buffer: Uint8Array, at: number, n: number): number => {
  buffer[at] = 48 + Math.floor(n / 10);
  buffer[at + 1] = 48 + (n % 10);
  return at + 2;
};

let minuteCached = Number.NaN;
const minutePrefix = new Uint8Array(17);

/** `"YYYY-MM-DDTHH:MM:SS.mmmZ"`, as Date#toISOString writes it, the minute's part cached. */
const isoTimestamp = (buffer: Uint8Array, at: number, epochMs: number): number => {
  const ms = Math.trunc(epochMs);
  const minute = Math.floor(ms / 60_000);
  // Years outside 0001..9999 take toISOString's extended form.
  if (ms < -62_135_596_800_000 || ms >= 253_402_300_800_000) return jsonString(buffer, at, new Date(ms).toISOString());
  if (minute !== minuteCached) {
    minuteCached = minute;
    ascii(minutePrefix, 0, new Date(minute * 60_000).toISOString().slice(0, 17));
  }
  const rest = ms - minute * 60_000;
  const milli = rest % 1000;
  buffer[at] = 34;
  buffer.set(minutePrefix, at + 1);
  let end = digits2(buffer, at + 18, Math.floor(rest / 1000));
  buffer[end] = 46;
  buffer[end + 1] = 48 + Math.floor(milli / 100);
  end = digits2(buffer, end + 2, milli % 100);
  buffer[end] = 90;
  buffer[end + 1] = 34;
  return end + 2;
};

/** Most bytes a hit can take: every UTF-16 unit of the free-text fields escaped as \uXXXX. */
export const hitRoom = (hit: WireHit): number =>
  FIXED_ROOM + hit.endpoint.length * 6 + (typeof hit.timestamp === "string" ? hit.timestamp.length * 6 : 0);

// The parts of a hit that repeat from one to the next, kept as bytes: the endpoint with the
// field names around it (route patterns repeat), and method with status. Bounded: a map that
// fills up is emptied.
const MAX_CACHED = 2048;
const middles = new Map<string, Uint8Array>();
const tails = new Map<string | undefined, Map<number | undefined, Uint8Array>>();

/** `","endpoint":"/v1/orders/:id","timestamp":` */
const middleOf = (endpoint: string): Uint8Array => {
  let bytes = middles.get(endpoint);
  if (bytes === undefined) {
    const scratch = new Uint8Array(F_ENDPOINT.length + endpoint.length * 6 + 2 + F_TIMESTAMP.length);
    bytes = scratch.slice(0, ascii(scratch, jsonString(scratch, ascii(scratch, 0, F_ENDPOINT), endpoint), F_TIMESTAMP));
    if (middles.size >= MAX_CACHED) middles.clear();
    middles.set(endpoint, bytes);
  }
  return bytes;
};

/** `","method":"GET","status":200}` (or the part of it the hit has). */
const tailOf = (method: string | undefined, status: number | undefined): Uint8Array => {
  let byStatus = tails.get(method);
  let bytes = byStatus?.get(status);
  if (bytes === undefined) {
    let text = method === undefined ? "" : `${F_METHOD}${method}`;
    text += status === undefined ? F_END_QUOTED : `${F_STATUS}${status}${F_END}`;
    bytes = new Uint8Array(text.length);
    ascii(bytes, 0, text);
    if (byStatus === undefined) {
      if (tails.size >= MAX_CACHED) tails.clear();
      byStatus = new Map();
      tails.set(method, byStatus);
    }
    if (byStatus.size >= MAX_CACHED) byStatus.clear();
    byStatus.set(status, bytes);
  }
  return bytes;
};

/** Writes one hit at `at`; the caller made sure `hitRoom(hit)` bytes are free there. */
export const writeHit = (buffer: Uint8Array, at: number, hit: WireHit): number => {
  let end = ascii(buffer, at, F_IP);
  end = ascii(buffer, end, hit.ip);
  const middle = middleOf(hit.endpoint);
  buffer.set(middle, end);
  end += middle.length;
  end = typeof hit.timestamp === "number" ? isoTimestamp(buffer, end, hit.timestamp) : jsonString(buffer, end, hit.timestamp);
  end = ascii(buffer, end, F_EVENT);
  end = ascii(buffer, end, hit.event_id);
  const tail = tailOf(hit.method, hit.status);
  buffer.set(tail, end);
  return end + tail.length;
};

/** One hit's JSON as bytes (the body of `POST /api/logs`). */
export const encodeHit = (hit: WireHit): Uint8Array => {
  const buffer = new Uint8Array(hitRoom(hit));
  return buffer.subarray(0, writeHit(buffer, 0, hit));
};

export interface Encoded {
  /** The body, a view of the buffer. */
  body: Uint8Array;
  /** How many of the hits it holds (from the first). */
  count: number;
}

/**
 * `{"hits":[…]}` of the first hits that fit in `limit` bytes, at least one. Written into
 * `buffer` when there is room (it should have `limit` plus the room of one hit), else into a
 * buffer of its own for a lone hit larger than that.
 */
export const encodeBatch = (hits: readonly WireHit[], buffer: Uint8Array, limit: number): Encoded => {
  let target = buffer;
  let at = ascii(target, 0, OPEN);
  let count = 0;
  for (const hit of hits) {
    const room = hitRoom(hit) + 1 + CLOSE.length;
    if (at + room > target.length) {
      if (count > 0) break;
      target = new Uint8Array(at + room);
      ascii(target, 0, OPEN);
    }
    const start = at;
    if (count > 0) target[at++] = 44;
    at = writeHit(target, at, hit);
    if (count > 0 && at + CLOSE.length > limit) {
      at = start;
      break;
    }
    count++;
  }
  at = ascii(target, at, CLOSE);
  return { body: target.subarray(0, at), count };
};
