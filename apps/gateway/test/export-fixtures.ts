import { randomUUID } from "node:crypto";
import type { Db, ExportStatus } from "@usage/db";
import { sql } from "kysely";

/** Export rows and chunks written straight into the test database, as the worker would leave them. */

export interface ExportRowOptions {
  owner: string;
  status?: ExportStatus;
  clientId?: string | null;
  processed?: number;
  total?: number | null;
  /** Seconds from now; negative for a file already expired. */
  expiresInSeconds?: number;
}

const HOUR_MS = 3_600_000;

export const insertExport = async (db: Db, options: ExportRowOptions): Promise<string> => {
  const exportId = randomUUID();
  const status = options.status ?? "completed";
  const finished = status === "completed" || status === "failed" || status === "cancelled";
  await db
    .insertInto("exports")
    .values({
      export_id: exportId,
      owner: options.owner,
      client_id: options.clientId === undefined ? (options.owner === "admin" ? null : options.owner) : options.clientId,
      range_from: new Date(Date.now() - 24 * HOUR_MS),
      range_to: new Date(),
      status,
      total: options.total === undefined ? (status === "queued" ? null : (options.processed ?? 0)) : options.total,
      processed: options.processed ?? 0,
      started_at: status === "queued" ? null : new Date(),
      finished_at: finished ? new Date() : null,
      expires_at: status === "completed" ? sql<Date>`now() + make_interval(secs => ${options.expiresInSeconds ?? 24 * 3600})` : null,
    })
    .execute();
  return exportId;
};

/**
 * Chunks 0..n-1 of an export, each holding `rows` CSV rows. Written last first, so a reader
 * that followed the table's order instead of `seq` would come out backwards.
 */
export const insertChunks = async (db: Db, exportId: string, chunks: readonly Buffer[], rows = 1): Promise<void> => {
  if (chunks.length === 0) return;
  await db
    .insertInto("export_chunks")
    .values(
      chunks
        .map((data, seq) => ({
          export_id: exportId,
          seq,
          rows,
          last_ts: new Date(),
          last_client_id: randomUUID(),
          last_id: randomUUID(),
          data,
        }))
        .reverse(),
    )
    .execute();
};

/**
 * `count` chunks of `size` bytes made by Postgres itself (chunk i is the letter A + i % 26
 * repeated), so a large file costs the test process no memory. `expectedChunk` makes the same bytes.
 */
export const generateChunks = async (db: Db, exportId: string, count: number, size: number): Promise<void> => {
  await sql`
    INSERT INTO export_chunks (export_id, seq, rows, last_ts, last_client_id, last_id, data)
    SELECT ${exportId}::uuid, g, 1, now(), gen_random_uuid(), gen_random_uuid(), convert_to(repeat(chr(65 + g % 26), ${size}), 'UTF8')
    FROM generate_series(0, ${count - 1}) AS g`.execute(db);
};

export const expectedChunk = (seq: number, size: number): Buffer => Buffer.alloc(size, 65 + (seq % 26));
