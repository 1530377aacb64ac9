import { type Static, Type } from "typebox";

/**
 * Where each field of a hit stands in its wire tuple. A hit crosses the queue, the spool and
 * the insert as a tuple rather than an object, because a 500-hit job then carries no key
 * names and the worker makes no per-hit object (measured in docs/benchmarks.md). Every
 * reader names the field through this table: `hit[HIT.status]`, never `hit[6]`.
 */
export const HIT = { clientId: 0, id: 1, ts: 2, receivedAt: 3, ip: 4, method: 5, status: 6, endpoint: 7 } as const;

/**
 * One accepted hit between the gateway and Postgres: client id, hit id, event time and
 * acceptance time in epoch ms, caller IP, method, status, endpoint. No key, no email.
 * The tuple's order is HIT's; the schema validates jobs as the worker takes them.
 */
export const WireHit = Type.Tuple([
  Type.String({ format: "uuid" }),
  Type.String({ format: "uuid" }),
  Type.Integer(),
  Type.Integer(),
  Type.String({ minLength: 2, maxLength: 45 }),
  Type.Union([Type.String({ maxLength: 16 }), Type.Null()]),
  Type.Union([Type.Integer({ minimum: 100, maximum: 599 }), Type.Null()]),
  Type.String({ minLength: 1, maxLength: 2048 }),
]);
export type WireHit = Static<typeof WireHit>;

/** The fields of a hit by name, for the one place that builds tuples. */
export interface HitFields {
  clientId: string;
  id: string;
  ts: number;
  receivedAt: number;
  ip: string;
  method: string | null;
  status: number | null;
  endpoint: string;
}

/** Builds a wire hit from named fields: code that makes hits never spells the tuple's order. */
export const toWireHit = (f: HitFields): WireHit => [f.clientId, f.id, f.ts, f.receivedAt, f.ip, f.method, f.status, f.endpoint];

/** The same hit with another event time (a duplicate keeps its first copy's time). */
export const withEventTime = (hit: Readonly<WireHit>, ts: number): WireHit => {
  const copy = [...hit] as WireHit;
  copy[HIT.ts] = ts;
  return copy;
};
