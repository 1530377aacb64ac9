import { sql } from "kysely";
import type { Db } from "./db.ts";
import { type ExportChunk, type ExportProgress, type ExportStore, type ResumePoint, UTC_MICROS_FORMAT } from "./export-store.ts";

/** The committed chunks' totals and the last one's key (all null before the first chunk). */
interface ResumeRow {
  rows: number;
  bytes: number;
  seq: number | null;
  ts: string | null;
  client_id: string | null;
  id: string | null;
}

/**
 * The default store: chunks as rows of `export_chunks` (bytea, stored uncompressed), beside
 * the export's row, so a chunk and the progress it makes commit in one transaction.
 */
export const createPgExportStore = (db: Db): ExportStore => ({
  append: (exportId: string, chunk: ExportChunk, progress?: ExportProgress) =>
    db.transaction().execute(async (trx) => {
      // Locks the row against a concurrent cancel: either the cancel waits for this chunk
      // (and the worker then removes it with the rest), or this sees it and writes nothing.
      const running =
        progress === undefined
          ? await trx
              .selectFrom("exports")
              .select("export_id")
              .where("export_id", "=", exportId)
              .where("status", "=", "running")
              .forShare()
              .executeTakeFirst()
          : await trx
              .updateTable("exports")
              .set({
                // A resumed run restarts from its chunks, which an earlier run may have reported already.
                processed: sql<number>`greatest(processed, ${progress.processed})`,
                bytes: sql<number>`greatest(bytes, ${progress.bytes})`,
              })
              .where("export_id", "=", exportId)
              .where("status", "=", "running")
              .returning("export_id")
              .executeTakeFirst();
      if (running === undefined) return false;
      await trx
        .insertInto("export_chunks")
        .values({
          export_id: exportId,
          seq: chunk.seq,
          rows: chunk.rows,
          last_ts: sql<Date>`${chunk.last.ts}::timestamptz`,
          last_client_id: chunk.last.clientId,
          last_id: chunk.last.id,
          data: chunk.data,
        })
        .execute();
      return true;
    }),

  async resumePoint(exportId: string): Promise<ResumePoint> {
    // octet_length reads the size from the TOAST pointer: no chunk is fetched for this.
    const { rows } = await sql<ResumeRow>`
      SELECT total.rows, total.bytes, last.seq, last.ts, last.client_id, last.id
      FROM (
        SELECT coalesce(sum(rows), 0)::bigint AS rows, coalesce(sum(octet_length(data)), 0)::bigint AS bytes
        FROM export_chunks WHERE export_id = ${exportId}
      ) total
      LEFT JOIN LATERAL (
        SELECT seq, to_char(last_ts AT TIME ZONE 'UTC', ${UTC_MICROS_FORMAT}) AS ts, last_client_id::text AS client_id, last_id::text AS id
        FROM export_chunks WHERE export_id = ${exportId} ORDER BY seq DESC LIMIT 1
      ) last ON true`.execute(db);
    const row = rows[0];
    if (row?.seq == null || row.ts === null || row.client_id === null || row.id === null) {
      return { nextSeq: 0, rows: 0, bytes: 0, last: undefined };
    }
    return { nextSeq: row.seq + 1, rows: row.rows, bytes: row.bytes, last: { ts: row.ts, clientId: row.client_id, id: row.id } };
  },

  async *read(exportId: string): AsyncIterable<Buffer> {
    // One chunk per query: a cursor over all of them would have pg buffer rows ahead of the reader.
    for (let after = -1; ; ) {
      const chunk = await db
        .selectFrom("export_chunks")
        .select(["seq", "data"])
        .where("export_id", "=", exportId)
        .where("seq", ">", after)
        .orderBy("seq")
        .limit(1)
        .executeTakeFirst();
      if (chunk === undefined) return;
      after = chunk.seq;
      yield chunk.data;
    }
  },

  async remove(exportId: string): Promise<void> {
    await db.deleteFrom("export_chunks").where("export_id", "=", exportId).execute();
  },

  async removeExpired(now: Date): Promise<number> {
    const { rows } = await sql<{ exports: number }>`
      WITH gone AS (
        DELETE FROM export_chunks c USING exports e
        WHERE c.export_id = e.export_id AND e.expires_at <= ${now}
        RETURNING c.export_id
      )
      SELECT count(DISTINCT export_id)::int AS exports FROM gone`.execute(db);
    return rows[0]?.exports ?? 0;
  },
});
