import { Readable } from "node:stream";
import { AppError } from "@usage/core";
import type { Export } from "@usage/db";
import { isExpired } from "./export-state.ts";

/** The CSV's header row; the chunks hold the rows only (RFC 4180 line ends). */
export const CSV_HEADER = Buffer.from("id,client_id,timestamp,ip,endpoint,method,status\r\n");

export interface ExportFile {
  filename: string;
  body: Readable;
}

const gone = (): AppError => new AppError("GONE", "the export's file has expired (files are kept 24 h); create a new export");

async function* csv(first: IteratorResult<Buffer>, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield CSV_HEADER;
    if (first.done === true) return;
    yield first.value;
    for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield next.value;
  } finally {
    // A client that hangs up destroys the stream, which ends this generator here: the reads stop.
    await rest.return?.();
  }
}

/**
 * The file of a visible export: 409 unless completed, 410 once expired or swept. The first
 * chunk is read before answering, so a file swept without `expires_at` (or a database error)
 * is still an error answer and not a truncated 200.
 */
export const openExportFile = async (
  row: Export,
  source: (exportId: string) => AsyncIterable<Buffer>,
  nowMs: number,
): Promise<ExportFile> => {
  if (row.status !== "completed") throw new AppError("CONFLICT", `the export is ${row.status}: only a completed export can be downloaded`);
  if (isExpired(row, nowMs)) throw gone();
  const chunks = source(row.export_id)[Symbol.asyncIterator]();
  const first = await chunks.next();
  if (first.done === true && row.processed > 0) throw gone();
  // Byte mode: the stream reads the next chunk only once the socket took the previous one
  // (an object-mode stream would read 16 chunks ahead).
  return { filename: `export-${row.export_id}.csv`, body: Readable.from(csv(first, chunks), { objectMode: false }) };
};
