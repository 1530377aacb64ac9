import { HIT, type WireHit } from "@usage/contract";
import type { Logger } from "@usage/core";
import { DAY_MS } from "@usage/core";
import { type DayDelta, type Db, ensureHitPartitions, rejectHit } from "@usage/db";

/** Inserts one batch; storeBatch calls it again for the halves of a batch it narrows down. */
export type InsertBatch = (hits: readonly WireHit[]) => Promise<DayDelta[]>;

/** Postgres error classes that no retry can fix: data exceptions and integrity violations. */
const isDataError = (error: unknown): boolean => {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("22") || (code.startsWith("23") && code !== "23505"));
};

const isMissingPartition = (error: unknown): boolean =>
  (error as { code?: unknown }).code === "23514" && /no partition of relation/.test(String((error as Error).message));

export interface StoreOutcome {
  deltas: DayDelta[];
  inserted: number;
  rejected: number;
}

/**
 * Stores a batch idempotently. A missing weekly partition is created and the batch tried
 * again; a data error is narrowed down by halving, so one bad hit lands in rejected_hits
 * instead of failing the good ones. Anything else (Postgres unreachable, deadlock) is
 * thrown so BullMQ retries the whole job with backoff.
 */
export const storeBatch = async (db: Db, insert: InsertBatch, hits: readonly WireHit[], log: Logger): Promise<StoreOutcome> => {
  try {
    const deltas = await insert(hits);
    return { deltas, inserted: deltas.reduce((sum, d) => sum + d.delta, 0), rejected: 0 };
  } catch (error) {
    if (isMissingPartition(error)) {
      const times = hits.map((hit) => hit[HIT.ts]);
      const created = await ensureHitPartitions(db, Math.min(...times), Math.max(...times) + DAY_MS);
      log.warn({ created }, "created missing hit partitions");
      return storeBatch(db, insert, hits, log);
    }
    if (!isDataError(error)) throw error;
    if (hits.length === 1) {
      const hit = hits[0] as WireHit;
      await rejectHit(db, hit, String((error as Error).message));
      log.error({ clientId: hit[HIT.clientId], id: hit[HIT.id], err: error }, "hit rejected by the database");
      return { deltas: [], inserted: 0, rejected: 1 };
    }
    const middle = hits.length >> 1;
    const left = await storeBatch(db, insert, hits.slice(0, middle), log);
    const right = await storeBatch(db, insert, hits.slice(middle), log);
    return {
      deltas: [...left.deltas, ...right.deltas],
      inserted: left.inserted + right.inserted,
      rejected: left.rejected + right.rejected,
    };
  }
};
