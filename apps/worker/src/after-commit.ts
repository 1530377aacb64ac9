import { encodeUsageChanges, HIT, type WireHit } from "@usage/contract";
import type { Logger } from "@usage/core";
import { type Keys, publish, type RedisConnection } from "@usage/store";
import type { WorkerMetrics } from "./metrics.ts";
import type { StoreOutcome } from "./store-batch.ts";

export interface AfterCommitDeps {
  publisher: RedisConnection;
  keys: Keys;
  metrics: WorkerMetrics;
  log: Logger;
}

/** Runs once a statement has committed `hits`; `startedAt` is when its flush began (performance.now()). */
export type AfterCommit = (hits: readonly WireHit[], outcome: StoreOutcome, startedAt: number) => Promise<void>;

/**
 * What follows a commit: the statement's metrics, the ingest lag, and one change message
 * for the gateways. It does not throw: the hits are stored, and nothing here may send
 * their jobs back for a retry.
 */
export const createAfterCommit =
  ({ publisher, keys, metrics, log }: AfterCommitDeps): AfterCommit =>
  async (hits, outcome, startedAt) => {
    const now = Date.now();
    metrics.batchSeconds.observe({ result: "ok" }, (performance.now() - startedAt) / 1000);
    metrics.hits.inc({ outcome: "inserted" }, outcome.inserted);
    metrics.hits.inc({ outcome: "duplicate" }, hits.length - outcome.inserted - outcome.rejected);
    metrics.hits.inc({ outcome: "rejected" }, outcome.rejected);
    metrics.hitFlow.record(hits.length);
    // One sample per 202, not per hit: the hits of a request share their acceptance time,
    // and a quantile summary per hit cost a tenth of the worker's CPU.
    const accepted = new Set<number>();
    for (const hit of hits) accepted.add(hit[HIT.receivedAt]);
    for (const at of accepted) metrics.lagSeconds.observe(Math.max(0, now - at) / 1000);
    if (outcome.deltas.length === 0) return;
    const changes = outcome.deltas.map((d) => ({ client_id: d.clientId, date: d.day, delta: d.delta, total_requests: d.total }));
    // At-most-once by nature: a lost message only delays a dashboard, never a count.
    await publish(publisher, keys.updatesChannel, encodeUsageChanges(changes)).catch((error: unknown) =>
      log.warn({ err: error }, "publish failed"),
    );
  };
