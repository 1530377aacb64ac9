import { type DayDelta, type Db, insertHits, isDuplicateHit, type StoredHit } from "@usage/db";

export type HitWriter = (hits: readonly StoredHit[]) => Promise<DayDelta[]>;

/** How long statements skip duplicates outright after one met a hit already stored. */
export const SKIP_DUPLICATES_MS = 10_000;

/**
 * Inserts hits without ON CONFLICT while no duplicate has been met lately: almost every
 * hit is new, and the plain insert costs Postgres about a third less per row. A duplicate
 * (a job delivered again after a crash, an event id sent again) fails that statement,
 * which is run again skipping duplicates; so do all statements for the next
 * SKIP_DUPLICATES_MS, so that a stream of duplicates costs one failed statement per
 * window, not one per statement.
 */
export const createHitWriter = (db: Db, onFallback: () => void = () => {}, now: () => number = Date.now): HitWriter => {
  let skipUntil = 0;
  return async (hits) => {
    if (now() >= skipUntil) {
      try {
        return await insertHits(db, hits, "fail");
      } catch (error) {
        if (!isDuplicateHit(error)) throw error;
        skipUntil = now() + SKIP_DUPLICATES_MS;
        onFallback();
      }
    }
    return insertHits(db, hits, "skip");
  };
};
