import { sql, type Transaction } from "kysely";
import type { Db } from "./db.ts";
import type { Database, Export } from "./schema.ts";

/**
 * The gateway's statements on `exports` (create, read, cancel, fail) and the removal of an
 * export's chunks. The worker's side (running an export, writing and reading chunks) is the
 * export store's.
 */

/** Unfinished (queued or running) exports one owner may have at a time. */
export const MAX_UNFINISHED_EXPORTS = 3;

export interface ExportRequest {
  exportId: string;
  /** The creator: a client's id, or "admin". */
  owner: string;
  /** Whose hits: one client, or null for every client. */
  clientId: string | null;
  from: Date;
  to: Date;
}

const UNFINISHED = ["queued", "running"] as const;

const inTransaction = <T>(db: Db, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> =>
  db.isTransaction ? work(db as Transaction<Database>) : db.transaction().execute(work);

/**
 * Inserts a queued export unless its owner already has MAX_UNFINISHED_EXPORTS unfinished
 * ones ("limit"). The count and the insert run under a transaction-scoped advisory lock on
 * the owner: without it, concurrent requests would each count the same few rows and all
 * insert. The lock is released at commit, so the next creator counts this export too.
 */
export const createExport = async (db: Db, request: ExportRequest): Promise<Export | "limit"> =>
  inTransaction(db, async (trx) => {
    // hashtext: the lock takes a number; a collision between two owners only serialises them.
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`exports:${request.owner}`}))`.execute(trx);
    const { unfinished } = await trx
      .selectFrom("exports")
      .select((eb) => eb.fn.countAll<number>().as("unfinished"))
      .where("owner", "=", request.owner)
      .where("status", "in", UNFINISHED)
      .executeTakeFirstOrThrow();
    if (Number(unfinished) >= MAX_UNFINISHED_EXPORTS) return "limit";
    return trx
      .insertInto("exports")
      .values({
        export_id: request.exportId,
        owner: request.owner,
        client_id: request.clientId,
        range_from: request.from,
        range_to: request.to,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  });

export const getExport = async (db: Db, exportId: string): Promise<Export | undefined> =>
  db.selectFrom("exports").selectAll().where("export_id", "=", exportId).executeTakeFirst();

/**
 * Cancels an unfinished export; a finished one is returned unchanged. `changed` says whether
 * this call cancelled it. Undefined for an unknown export.
 */
export const cancelExport = async (db: Db, exportId: string): Promise<{ row: Export; changed: boolean } | undefined> => {
  const cancelled = await db
    .updateTable("exports")
    .set({ status: "cancelled", finished_at: sql`now()` })
    .where("export_id", "=", exportId)
    .where("status", "in", UNFINISHED)
    .returningAll()
    .executeTakeFirst();
  if (cancelled !== undefined) return { row: cancelled, changed: true };
  // Not unfinished: its state is final and no longer changes, so a second read is consistent.
  const row = await getExport(db, exportId);
  return row === undefined ? undefined : { row, changed: false };
};

/** Marks a queued export failed (its job could not be enqueued); a later state is kept. */
export const failQueuedExport = async (db: Db, exportId: string, error: string): Promise<void> => {
  await db
    .updateTable("exports")
    .set({ status: "failed", error, finished_at: sql`now()` })
    .where("export_id", "=", exportId)
    .where("status", "=", "queued")
    .execute();
};
