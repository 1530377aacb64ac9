import { DAY_MS, epochHour } from "@usage/core";
import type { CountedHit, CountOutcome } from "@usage/store";
import { LRUCache } from "lru-cache";

/**
 * Quota and idempotency while Redis is unreachable, in this process only. Each gateway then
 * enforces the full hourly quota on its own, so with N gateways a client may get up to N×Q
 * in an hour that Redis spends down; exactness returns with Redis. The last 100,000 event ids
 * seen here are remembered, and replay dedups again against Redis' markers.
 */
export class LocalCounters {
  readonly #quota = new Map<string, { hour: number; used: number }>();
  // lru-cache preallocates for `max` entries, so the bound is also a fixed memory cost (~4 MB).
  readonly #seen = new LRUCache<string, number>({ max: 100_000, ttl: DAY_MS });
  /** The hour whose entries #quota holds; older ones are dropped as the hour rolls. */
  #hour = 0;

  count(clientId: string, limit: number, hits: readonly CountedHit[], nowMs: number): CountOutcome {
    this.#prune(nowMs);
    const used = this.used(clientId, nowMs);
    const local = new Map<string, number>();
    const priorTs = hits.map((hit) => {
      if (hit.eventId === null) return null;
      const key = `${clientId}:${hit.eventId}`;
      const prior = local.get(key) ?? this.#seen.get(key);
      if (prior !== undefined) return prior;
      local.set(key, hit.ts);
      return null;
    });
    const fresh = priorTs.filter((prior) => prior === null).length;
    if (used + fresh > limit) return { accepted: false, used, priorTs: [] };
    for (const [key, ts] of local) this.#seen.set(key, ts);
    this.#quota.set(clientId, { hour: epochHour(nowMs), used: used + fresh });
    return { accepted: true, used: used + fresh, priorTs };
  }

  /** Quota this process has granted the client in the current hour. */
  used(clientId: string, nowMs: number): number {
    const entry = this.#quota.get(clientId);
    return entry?.hour === epochHour(nowMs) ? entry.used : 0;
  }

  uncount(clientId: string, hits: readonly CountedHit[], nowMs: number): void {
    const entry = this.#quota.get(clientId);
    if (entry?.hour === epochHour(nowMs)) entry.used = Math.max(0, entry.used - hits.length);
    for (const hit of hits) if (hit.eventId !== null) this.#seen.delete(`${clientId}:${hit.eventId}`);
  }

  /** Drops quota entries of past hours, once per hour. */
  #prune(nowMs: number): void {
    const hour = epochHour(nowMs);
    if (hour === this.#hour) return;
    this.#hour = hour;
    for (const [clientId, entry] of this.#quota) if (entry.hour !== hour) this.#quota.delete(clientId);
  }
}
