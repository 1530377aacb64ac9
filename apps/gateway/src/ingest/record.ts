import { randomUUID } from "node:crypto";
import { type Hit, toWireHit, type WireHit } from "@usage/contract";
import { AppError, DAY_MS, HOUR_MS } from "@usage/core";
import type { ClientIdentity } from "@usage/db";
import type { CountedHit, Counters } from "@usage/store";
import { LocalCounters } from "./local-counters.ts";
import type { IngestPipeline } from "./pipeline.ts";

const FUTURE_SKEW_MS = 5 * 60_000;

export interface IngestResult {
  ids: string[];
  duplicates: boolean[];
  quota: QuotaState;
}

export interface QuotaState {
  limit: number;
  /** Hits counted in the current hour (may pass `limit` after the quota was lowered). */
  used: number;
  remaining: number;
  /** Seconds until the quota window resets. */
  reset: number;
  /** When it resets (epoch ms): the top of the next UTC hour. */
  resetAt: number;
}

export interface IngestDeps {
  counters: Counters;
  pipeline: IngestPipeline;
  onDegraded?: (error: unknown) => void;
  defaultLimit: number;
  maxEventAgeDays: number;
  now?: () => number;
}

export interface Ingest {
  /** Validates, counts and makes durable a group of hits of one client; all or nothing. */
  record(client: ClientIdentity, hits: readonly Hit[], path: (index: number) => string): Promise<IngestResult>;
  quota(client: ClientIdentity): Promise<QuotaState>;
}

/** Fixed UTC hours: the quota resets at the top of each hour. */
const quotaState = (limit: number, used: number, nowMs: number): QuotaState => {
  const left = HOUR_MS - (nowMs % HOUR_MS);
  return { limit, used, remaining: Math.max(0, limit - used), reset: Math.ceil(left / 1000), resetAt: nowMs + left };
};

export const quotaHeaders = (quota: Pick<QuotaState, "limit" | "remaining" | "reset">): Record<string, number> => ({
  "x-ratelimit-limit": quota.limit,
  "x-ratelimit-remaining": quota.remaining,
  "x-ratelimit-reset": quota.reset,
});

export const createIngest = ({ counters, pipeline, onDegraded, defaultLimit, maxEventAgeDays, now = Date.now }: IngestDeps): Ingest => {
  // Quota and idempotency while Redis is unreachable.
  const local = new LocalCounters();
  const limitOf = (client: ClientIdentity): number => client.rate_limit_per_hour ?? defaultLimit;

  const parseTimestamps = (hits: readonly Hit[], nowMs: number, path: (index: number) => string): number[] =>
    hits.map((hit, index) => {
      const ts = Date.parse(hit.timestamp);
      if (Number.isNaN(ts)) throw new AppError("VALIDATION_ERROR", `${path(index)}/timestamp is not a valid date-time`);
      if (ts > nowMs + FUTURE_SKEW_MS)
        throw new AppError("VALIDATION_ERROR", `${path(index)}/timestamp is more than 5 minutes in the future`);
      if (ts < nowMs - maxEventAgeDays * DAY_MS) {
        throw new AppError("VALIDATION_ERROR", `${path(index)}/timestamp is more than ${maxEventAgeDays} days in the past`);
      }
      return ts;
    });

  return {
    async record(client, hits, path) {
      const nowMs = now();
      const limit = limitOf(client);
      const timestamps = parseTimestamps(hits, nowMs, path);
      // A quota of 0 blocks the client outright: duplicates too, and without a Redis call.
      if (limit === 0) {
        const quota = quotaState(0, 0, nowMs);
        throw new AppError("RATE_LIMITED", "this client may not send hits (quota 0)", {
          retryAfter: quota.reset,
          headers: quotaHeaders(quota),
        });
      }
      // Postgres compares UUIDs case-insensitively; the Redis marker must too.
      const eventIds = hits.map((hit) => hit.event_id?.toLowerCase() ?? null);
      const counted: CountedHit[] = hits.map((_, i) => ({ eventId: eventIds[i] ?? null, ts: timestamps[i] as number }));

      let degraded = false;
      const outcome = await counters.count(client.client_id, limit, counted, nowMs).catch((error: unknown) => {
        // Redis unreachable: keep accepting, counted here and spooled to disk until it returns.
        onDegraded?.(error);
        degraded = true;
        return local.count(client.client_id, limit, counted, nowMs);
      });
      const quota = quotaState(limit, outcome.used, nowMs);
      if (!outcome.accepted) {
        throw new AppError("RATE_LIMITED", `quota of ${limit} hits per hour exceeded`, {
          retryAfter: quota.reset,
          headers: quotaHeaders(quota),
        });
      }

      const ids = eventIds.map((eventId) => eventId ?? randomUUID());
      // A duplicate is enqueued again with the first copy's time: storage is idempotent on
      // (client, id, time), and a copy whose first enqueue died with its gateway is not lost.
      const wire: WireHit[] = hits.map((hit, i) =>
        toWireHit({
          clientId: client.client_id,
          id: ids[i] as string,
          ts: outcome.priorTs[i] ?? (timestamps[i] as number),
          receivedAt: nowMs,
          ip: hit.ip,
          method: hit.method ?? null,
          status: hit.status ?? null,
          endpoint: hit.endpoint,
        }),
      );
      try {
        if (degraded) await pipeline.spoolUncounted(wire);
        else await pipeline.enqueue({ hits: wire, mayExist: outcome.priorTs.some((prior) => prior !== null) });
      } catch (error) {
        // Neither the queue nor the spool took it: answer 503 and take back what was counted,
        // so the hit is not counted and its event_id may be sent again.
        const fresh = counted.filter((_, i) => outcome.priorTs[i] === null);
        if (degraded) local.uncount(client.client_id, fresh, nowMs);
        else await counters.uncount(client.client_id, fresh, nowMs).catch(() => {});
        throw new AppError("UNAVAILABLE", "hit could not be made durable, retry later", { cause: error, retryAfter: 1 });
      }
      return { ids, duplicates: outcome.priorTs.map((prior) => prior !== null), quota };
    },

    async quota(client) {
      const nowMs = now();
      const used = await counters.quotaUsed(client.client_id, nowMs).catch(() => local.used(client.client_id, nowMs));
      return quotaState(limitOf(client), used, nowMs);
    },
  };
};
