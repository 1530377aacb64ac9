import { DAY_MS, epochHour, HOUR_MS, utcDay } from "@usage/core";
import { bucketOf } from "./buckets.ts";
import type { Keys } from "./keys.ts";
import type { ScriptCall } from "./scripts.ts";

/**
 * How the gateway talks to count-hits.lua and uncount-hits.lua: the keys and arguments a
 * group of requests is encoded into, and the reply decoded back. Both scripts read the same
 * layout:
 *
 *   KEYS:        the version share of each bucket the call covers (`<bucket prefix>v`): the
 *                first routes the call; each is the prefix the script builds its bucket's
 *                rank keys on
 *   header:      quotaTtl, dayTtl, hourTtl, markerTtl
 *   per request: key (its bucket's index in KEYS, from 1), clientPrefix, quotaHour, clientId,
 *                limit, force ('1'|'0'), nEvents, nHours,
 *                then per hit with an event id: eventId, tsMs, day, hour,
 *                then per hour of the hits without one: day, hour, count
 *
 * (day '' = outside the daily read window; hour '' = outside the top list's.) A request's
 * keys are all in its client's bucket, so a call is one slot when it covers one bucket (a
 * cluster) and may cover many on one node (bucket-calls.ts). Hits without an event id need no
 * marker, so they travel grouped per hour: a 500-hit batch of one hour costs the script
 * three arguments instead of two thousand.
 *
 * count-hits replies per request: accepted (1|0), quota used, and when accepted one mark per
 * hit with an event id, in order: '' (new) or the first copy's tsMs (a duplicate).
 */

/** Days shown by the daily endpoint and hours summed by the top endpoint. */
export const DAILY_WINDOW_DAYS = 7;
export const TOP_WINDOW_HOURS = 24;

export const DAY_TTL_S = (DAILY_WINDOW_DAYS + 2) * (DAY_MS / 1000);
export const HOUR_TTL_S = (TOP_WINDOW_HOURS + 2) * (HOUR_MS / 1000);
export const QUOTA_TTL_S = HOUR_MS / 1000 + 60;
export const MARKER_TTL_S = DAY_MS / 1000;

/**
 * Script work per call at most, in roughly Redis commands: a call blocks Redis while it
 * runs, so a group stays around a millisecond or two of script time. An event id costs a
 * GET and a SET, an hour of hits a few increments, a request its quota read and write.
 */
export const MAX_GROUP_WORK = 2000;

export type Arg = string | number;

export interface CountedHit {
  eventId: string | null;
  ts: number;
}

export interface CountOutcome {
  accepted: boolean;
  /** Quota used in the current hour after this call. */
  used: number;
  /** Per hit: null when new, else the event time of the copy seen first (a duplicate). */
  priorTs: Array<number | null>;
}

/** One request's part of a call, encoded before it joins a group. */
export interface CountRequest {
  /** Its client's bucket: which key of the call it needs. */
  bucket: number;
  args: Arg[];
  hits: readonly CountedHit[];
  /** Its share of MAX_GROUP_WORK. */
  work: number;
}

/** The arguments every call starts with, after its keys. */
export const countHeader = (): Arg[] => [QUOTA_TTL_S, DAY_TTL_S, HOUR_TTL_S, MARKER_TTL_S];

/**
 * Encodes one request: a client's hits, counted against `limit` in the hour of `nowMs`
 * (`force` counts them whatever the quota: a replay of hits already accepted). Encoded
 * here, so a request that cannot be encoded fails alone, not its whole group.
 */
export const encodeRequest = (
  keys: Keys,
  clientId: string,
  limit: number,
  hits: readonly CountedHit[],
  nowMs: number,
  force = false,
): CountRequest => {
  // The read windows (and tomorrow: a hit may be stamped up to five minutes ahead).
  const today = Math.floor(nowMs / DAY_MS);
  const firstDay = today - DAILY_WINDOW_DAYS + 1;
  const firstHour = epochHour(nowMs) - TOP_WINDOW_HOURS;
  // A hit's day follows from its hour, so the hour alone keys a group.
  const place = (ts: number, hourNumber: number): [string, number | ""] => {
    const dayNumber = Math.floor(hourNumber / 24);
    return [dayNumber >= firstDay && dayNumber <= today + 1 ? utcDay(ts) : "", hourNumber >= firstHour ? hourNumber : ""];
  };
  const events: Arg[] = [];
  const hours = new Map<number, [string, number | "", number]>();
  for (const hit of hits) {
    const hourNumber = epochHour(hit.ts);
    if (hit.eventId !== null) {
      events.push(hit.eventId, hit.ts, ...place(hit.ts, hourNumber));
      continue;
    }
    const hour = hours.get(hourNumber);
    if (hour === undefined) hours.set(hourNumber, [...place(hit.ts, hourNumber), 1]);
    else hour[2]++;
  }
  const bucket = bucketOf(clientId);
  const args: Arg[] = [keys.clientPrefix(clientId, bucket), epochHour(nowMs), clientId, limit, force ? 1 : 0];
  args.push(events.length / 4, hours.size);
  for (const value of events) args.push(value);
  for (const hour of hours.values()) args.push(...hour);
  return { bucket, args, hits, work: 2 + events.length / 2 + hours.size * 4 };
};

/**
 * One call: the version share of each bucket the requests are in as its keys; as its
 * arguments the header, then each request's part behind the index of its bucket's key.
 */
export const encodeCall = (keys: Keys, requests: readonly CountRequest[]): ScriptCall => {
  const index = new Map<number, number>();
  for (const { bucket } of requests) if (!index.has(bucket)) index.set(bucket, index.size + 1);
  const args = countHeader();
  for (const request of requests) {
    args.push(index.get(request.bucket) as number);
    for (const arg of request.args) args.push(arg);
  }
  return { keys: [...index.keys()].map((bucket) => keys.versionShare(bucket)), args };
};

/** Splits count-hits' flat reply back into one outcome per request, in order. */
export const decodeReply = (reply: ReadonlyArray<string | number>, requests: readonly CountRequest[]): CountOutcome[] => {
  let at = 0;
  return requests.map(({ hits }) => {
    const accepted = Number(reply[at]) === 1;
    const used = Number(reply[at + 1]);
    at += 2;
    if (!accepted) return { accepted, used, priorTs: [] };
    // Marks come back for the hits with an event id only, in order; the others are new.
    const priorTs = hits.map((hit) => {
      if (hit.eventId === null) return null;
      const mark = reply[at++];
      return mark === "" ? null : Number(mark);
    });
    return { accepted, used, priorTs };
  });
};
