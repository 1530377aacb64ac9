import { sql } from "kysely";
import type { Db } from "./db.ts";
import { UTC_MICROS_FORMAT } from "./export-store.ts";
import type { ExportStatus } from "./schema.ts";

/**
 * The export row as the worker moves it: queued → running → completed (or failed); the
 * gateway moves it to cancelled. Every move is conditional on the state it leaves, so a
 * cancel that lands between two steps is never overwritten.
 */

/** A completed export's file is kept this long (then 410). */
export const EXPORT_FILE_TTL_HOURS = 24;
/** Export rows (and any chunks left) are deleted this long after they were created. */
export const EXPORT_ROW_TTL_DAYS = 7;

export interface ExportRun {
  exportId: string;
  status: ExportStatus;
  clientId: string | null;
  /** The range [from, to) in the export's timestamp form (microseconds kept). */
  from: string;
  to: string;
  total: number | null;
}

export const loadExportRun = async (db: Db, exportId: string): Promise<ExportRun | undefined> => {
  const row = await db
    .selectFrom("exports")
    .select([
      "export_id",
      "status",
      "total",
      sql<string | null>`client_id::text`.as("client_id"),
      sql<string>`to_char(range_from AT TIME ZONE 'UTC', ${UTC_MICROS_FORMAT})`.as("from"),
      sql<string>`to_char(range_to AT TIME ZONE 'UTC', ${UTC_MICROS_FORMAT})`.as("to"),
    ])
    .where("export_id", "=", exportId)
    .executeTakeFirst();
  return row && { exportId: row.export_id, status: row.status, clientId: row.client_id, from: row.from, to: row.to, total: row.total };
};

export const exportStatus = async (db: Db, exportId: string): Promise<ExportStatus | undefined> =>
  (await db.selectFrom("exports").select("status").where("export_id", "=", exportId).executeTakeFirst())?.status;

/** queued (or running, on a rerun) → running; false if it is in another state by now. */
export const startExportRun = async (db: Db, exportId: string): Promise<boolean> => {
  const row = await db
    .updateTable("exports")
    .set({ status: "running", started_at: sql<Date>`coalesce(started_at, now())` })
    .where("export_id", "=", exportId)
    .where("status", "in", ["queued", "running"])
    .returning("export_id")
    .executeTakeFirst();
  return row !== undefined;
};

/** The count taken when the export first starts; a resumed run keeps it. */
export const setExportTotal = async (db: Db, exportId: string, total: number): Promise<void> => {
  await db.updateTable("exports").set({ total }).where("export_id", "=", exportId).where("total", "is", null).execute();
};

/**
 * running → completed, the file kept for EXPORT_FILE_TTL_HOURS. `total` becomes the rows the
 * file holds: hits that arrived in the range after the count (or left it with a dropped
 * partition) make the two differ, and the file is what the caller gets. False if cancelled.
 */
export const completeExportRun = async (db: Db, exportId: string, done: { rows: number; bytes: number }): Promise<boolean> => {
  const row = await db
    .updateTable("exports")
    .set({
      status: "completed",
      finished_at: sql<Date>`now()`,
      expires_at: sql<Date>`now() + make_interval(hours => ${EXPORT_FILE_TTL_HOURS})`,
      processed: sql<number>`greatest(processed, ${done.rows})`,
      total: done.rows,
      bytes: done.bytes,
    })
    .where("export_id", "=", exportId)
    .where("status", "=", "running")
    .returning("export_id")
    .executeTakeFirst();
  return row !== undefined;
};

/** queued or running → failed, with a message the caller may read (no internals). */
export const failExportRun = async (db: Db, exportId: string, error: string): Promise<boolean> => {
  const row = await db
    .updateTable("exports")
    .set({ status: "failed", error, finished_at: sql<Date>`now()` })
    .where("export_id", "=", exportId)
    .where("status", "in", ["queued", "running"])
    .returning("export_id")
    .executeTakeFirst();
  return row !== undefined;
};

/** Deletes export rows created before `cutoff`, whatever their state (chunks go by cascade). */
export const deleteOldExports = async (db: Db, cutoff: Date): Promise<number> => {
  const result = await db.deleteFrom("exports").where("created_at", "<", cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
};

/** Exports still queued or running that were created before `cutoff`: the sweep asks their jobs how they are. */
export const unfinishedExportsBefore = async (db: Db, cutoff: Date): Promise<string[]> => {
  const rows = await db
    .selectFrom("exports")
    .select("export_id")
    .where("status", "in", ["queued", "running"])
    .where("created_at", "<", cutoff)
    .execute();
  return rows.map((row) => row.export_id);
};
