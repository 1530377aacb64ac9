import { finished } from "node:stream/promises";
import { sql } from "kysely";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { Db } from "./db.ts";
import { CHUNK_COPY_SQL, encodeChunkRow } from "./export-chunk-copy.ts";
import {
  type ExportChunk,
  type ExportFiles,
  type ExportProgress,
  type ExportStore,
  type ResumePoint,
  UTC_MICROS_FORMAT,
} from "./export-store.ts";

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
 * Opens a chunk's transaction and locks the export's row against a concurrent cancel: either
 * the cancel waits for this chunk (and the worker then removes it with the rest), or this
 * sees it and writes nothing. One simple-query round trip; the values are a checked uuid and
 * integers. The commit need not wait for its WAL flush: a chunk lost to a crash is not in
 * the table either, and the export resumes after the last chunk that is; the completion
 * commits synchronously, which flushes every chunk's WAL before it.
 */
const openChunkTransaction = (exportId: string, progress: ExportProgress | undefined): string => {
  const id = pg.escapeLiteral(exportId);
  const running =
    progress === undefined
      ? `SELECT export_id FROM exports WHERE export_id = ${id} AND status = 'running' FOR SHARE`
      : // A resumed run restarts from its chunks, which an earlier run may have reported already.
        `UPDATE exports SET processed = greatest(processed, ${Math.trunc(progress.processed)}), bytes = greatest(bytes, ${Math.trunc(progress.bytes)}) ` +
        `WHERE export_id = ${id} AND status = 'running' RETURNING export_id`;
  return `BEGIN; SET LOCAL synchronous_commit = off; ${running}`;
};

const appendOn = async (client: pg.PoolClient, exportId: string, chunk: ExportChunk, progress?: ExportProgress): Promise<boolean> => {
  const opened = (await client.query(openChunkTransaction(exportId, progress))) as unknown as pg.QueryResult[];
  if (opened[2]?.rowCount !== 1) {
    await client.query("ROLLBACK");
    return false;
  }
  const copy = client.query(copyFrom(CHUNK_COPY_SQL));
  const [head, data, trailer] = encodeChunkRow(exportId, chunk);
  copy.write(head);
  copy.write(data);
  copy.end(trailer);
  await finished(copy);
  await client.query("COMMIT");
  return true;
};

const resumePoint = async (db: Db, exportId: string): Promise<ResumePoint> => {
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
};

/**
 * The default store, reading side: chunks as rows of `export_chunks` (bytea, stored
 * uncompressed), beside the export's row.
 */
export const createPgExportFiles = (db: Db): ExportFiles => ({
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

/**
 * The default store for the export job: the files' side, and chunks appended through `pool`
 * (the pool under `db`: a chunk's COPY needs a connection of pg's own, held for its transaction).
 */
export const createPgExportStore = (db: Db, pool: pg.Pool): ExportStore => ({
  ...createPgExportFiles(db),
  resumePoint: (exportId) => resumePoint(db, exportId),
  async append(exportId, chunk, progress) {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      return await appendOn(client, exportId, chunk, progress);
    } catch (error) {
      // A failed statement leaves the transaction open; a lost connection cannot roll back and is dropped.
      await client.query("ROLLBACK").catch((rollback: unknown) => {
        broken = rollback instanceof Error ? rollback : new Error(String(rollback));
      });
      throw error;
    } finally {
      client.release(broken);
    }
  },
});
