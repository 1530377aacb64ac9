import { randomUUID } from "node:crypto";
import { createPgExportStore, type Db, UTC_MICROS_FORMAT } from "@usage/db";
import { sql } from "kysely";

/** A CSV field: null for an unquoted empty field (how a SQL NULL is written), else its text. */
export type Field = string | null;

/**
 * An RFC 4180 reader written for the tests, apart from the production code: records end with
 * CRLF, a quoted field holds anything (`""` is one quote), a bare field holds no quote, CR or LF.
 */
export const parseCsv = (text: string): Field[][] => {
  const records: Field[][] = [];
  let fields: Field[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let value = "";
      for (i++; ; ) {
        const quote = text.indexOf('"', i);
        if (quote === -1) throw new Error(`unterminated quoted field at ${i}`);
        value += text.slice(i, quote);
        i = quote + 1;
        if (text[i] !== '"') break;
        value += '"';
        i++;
      }
      fields.push(value);
    } else {
      let end = i;
      while (end < text.length && text[end] !== "," && text[end] !== "\r") end++;
      const bare = text.slice(i, end);
      if (/["\n]/.test(bare)) throw new Error(`bare field with a quote or LF at ${i}: ${JSON.stringify(bare.slice(0, 40))}`);
      fields.push(bare === "" ? null : bare);
      i = end;
    }
    if (text[i] === ",") {
      i++;
      if (i === text.length) throw new Error("file ends after a comma");
    } else if (text.startsWith("\r\n", i)) {
      records.push(fields);
      fields = [];
      i += 2;
    } else throw new Error(`expected a comma or CRLF at ${i}, found ${JSON.stringify(text.slice(i, i + 20))}`);
  }
  if (fields.length > 0) throw new Error("the last record is not ended by CRLF");
  return records;
};

/** The stored hits of a range as the contract's columns, in the export's order. */
export const expectedRows = async (db: Db, from: string, to: string, clientId?: string): Promise<Field[][]> => {
  const { rows } = await sql<{ r: Field[] }>`
    SELECT ARRAY[id::text, client_id::text, to_char(ts AT TIME ZONE 'UTC', ${UTC_MICROS_FORMAT}), host(ip), endpoint, method, status::text] AS r
    FROM hits WHERE ts >= ${from}::timestamptz AND ts < ${to}::timestamptz
    ${clientId === undefined ? sql`` : sql`AND client_id = ${clientId}::uuid`}
    ORDER BY ts, client_id, id`.execute(db);
  return rows.map((row) => row.r);
};

/** The export's file read back through the store, as the download will: chunks in order. */
export const readExport = async (db: Db, exportId: string): Promise<{ text: string; chunks: number }> => {
  const parts: Buffer[] = [];
  for await (const chunk of createPgExportStore(db).read(exportId)) parts.push(chunk);
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

export const insertHitRows = async (db: Db, hits: readonly SeedHit[]): Promise<void> => {
  for (let at = 0; at < hits.length; at += 1000) {
    const part = hits.slice(at, at + 1000);
    await sql`
      INSERT INTO hits (client_id, id, ts, received_at, ip, endpoint, method, status)
      SELECT c, i, t, t, ip, e, m, s FROM unnest(
        ${part.map((h) => h.clientId)}::uuid[], ${part.map((h) => h.id ?? randomUUID())}::uuid[], ${part.map((h) => h.ts)}::timestamptz[],
        ${part.map((h) => h.ip ?? "192.0.2.1")}::inet[], ${part.map((h) => h.endpoint)}::text[],
        ${part.map((h) => (h.method === undefined ? "GET" : h.method))}::text[], ${part.map((h) => (h.status === undefined ? 200 : h.status))}::smallint[]
      ) AS u(c, i, t, ip, e, m, s)`.execute(db);
  }
};
