import { randomUUID } from "node:crypto";
import { createPgExportFiles, type Db } from "@usage/db";
import { sql } from "kysely";

/** The export's file read back through the store, as the download will: chunks in order. */
export const readExport = async (db: Db, exportId: string): Promise<{ text: string; chunks: number }> => {
  const parts: Buffer[] = [];
  for await (const chunk of createPgExportFiles(db).read(exportId)) parts.push(chunk);
  return { text: Buffer.concat(parts).toString("utf8"), chunks: parts.length };
};

export interface ExportRow {
  from: string;
  to: string;
  clientId?: string | null;
  status?: "queued" | "running";
  total?: number;
}

/** Inserts an export's row as the gateway does (queued, its owner, its range). */
export const insertExport = async (db: Db, row: ExportRow): Promise<string> => {
  const exportId = randomUUID();
  await sql`
    INSERT INTO exports (export_id, owner, client_id, range_from, range_to, status, total)
    VALUES (${exportId}, ${row.clientId ?? "admin"}, ${row.clientId ?? null}, ${row.from}::timestamptz, ${row.to}::timestamptz,
            ${row.status ?? "queued"}, ${row.total ?? null})`.execute(db);
  return exportId;
};

export const exportRow = async (db: Db, exportId: string) =>
  db.selectFrom("exports").selectAll().where("export_id", "=", exportId).executeTakeFirst();

export const chunkCount = async (db: Db, exportId: string): Promise<number> => {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM export_chunks WHERE export_id = ${exportId}`.execute(db);
  return rows[0]?.n ?? 0;
};

/** Hits as rows of arrays, one statement: timestamps as text keep their microseconds. */
export interface SeedHit {
  clientId: string;
  id?: string;
  ts: string;
  ip?: string;
  endpoint: string;
  method?: string | null;
  status?: number | null;
}

/** Inserts hits with their days' rollups, as the worker's statement keeps them (the export's count reads those). */
export const insertHitRows = async (db: Db, hits: readonly SeedHit[]): Promise<void> => {
  for (let at = 0; at < hits.length; at += 1000) {
    const part = hits.slice(at, at + 1000);
    await sql`
      WITH inserted AS (
      INSERT INTO hits (client_id, id, ts, received_at, ip, endpoint, method, status)
      SELECT c, i, t, t, ip, e, m, s FROM unnest(
        ${part.map((h) => h.clientId)}::uuid[], ${part.map((h) => h.id ?? randomUUID())}::uuid[], ${part.map((h) => h.ts)}::timestamptz[],
        ${part.map((h) => h.ip ?? "192.0.2.1")}::inet[], ${part.map((h) => h.endpoint)}::text[],
        ${part.map((h) => (h.method === undefined ? "GET" : h.method))}::text[], ${part.map((h) => (h.status === undefined ? 200 : h.status))}::smallint[]
      ) AS u(c, i, t, ip, e, m, s)
      RETURNING client_id, ts
      )
      INSERT INTO usage_daily AS d (client_id, day, total)
      SELECT client_id, (ts AT TIME ZONE 'UTC')::date, count(*) FROM inserted GROUP BY 1, 2
      ON CONFLICT (client_id, day) DO UPDATE SET total = d.total + excluded.total`.execute(db);
  }
};
