/**
 * Where an export's file lives while it is written and until it expires. The export job
 * appends chunks in order; the download streams them back; expiry removes them. The
 * export's row (status, progress) stays in Postgres whatever holds the chunks: see
 * docs/exports.md for the Postgres store (export-store-pg.ts) and an S3-compatible design.
 */

/**
 * `to_char` format of a timestamp as the export writes it: RFC 3339, UTC, microseconds.
 * Keys travel as these strings, never as a JS Date, which would drop the microseconds and
 * make a resumed export repeat or skip rows that share a millisecond.
 */
export const UTC_MICROS_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';
export const UTC_MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** A timestamp in the export's form: `2026-12-03T10:00:00.000000Z` (lexical order = time order). */
export const utcMicros = (ms: number): string => `${new Date(ms).toISOString().slice(0, -1)}000Z`;

/** A row's place in the export's order (ts, client_id, id). */
export interface ExportKey {
  /** As `UTC_MICROS_FORMAT` writes it. */
  ts: string;
  clientId: string;
  id: string;
}

export interface ExportChunk {
  /** 0, 1, 2, … in the file's order. */
  seq: number;
  rows: number;
  /** The key of the chunk's last row: where the export resumes after it. */
  last: ExportKey;
  /** Whole CSV records, each ended by CRLF; no header (the download writes it). */
  data: Buffer;
}

/** What the export's row says of its progress (written with a chunk, not with every one). */
export interface ExportProgress {
  processed: number;
  bytes: number;
}

/** Where an export goes on after its last committed chunk. */
export interface ResumePoint {
  nextSeq: number;
  /** Rows and bytes in the committed chunks. */
  rows: number;
  bytes: number;
  /** Undefined: nothing committed yet, start at the range's beginning. */
  last: ExportKey | undefined;
}

/** What reads and removes finished files: the gateway's downloads and the expiry job. */
export interface ExportFiles {
  /**
   * The file's chunks in order, fetched one at a time as the consumer asks for the next: a
   * download holds one chunk in memory and the HTTP socket's backpressure paces the reads.
   */
  read(exportId: string): AsyncIterable<Buffer>;
  /** Removes an export's chunks (its row stays). */
  remove(exportId: string): Promise<void>;
  /** Removes the chunks of every export whose `expires_at` is not after `now`; returns how many. */
  removeExpired(now: Date): Promise<number>;
}

/** The export job's side: it also writes files and resumes them. */
export interface ExportStore extends ExportFiles {
  /**
   * Commits `chunk`, and `progress` to the export's row when given, in one transaction, but
   * only while the export is `running`. False when it is not (cancelled, or its row gone):
   * then nothing was written. A chunk with a seq already stored fails (two runs of one export).
   * The caller must not reuse `chunk.data` until this settles.
   */
  append(exportId: string, chunk: ExportChunk, progress?: ExportProgress): Promise<boolean>;
  resumePoint(exportId: string): Promise<ResumePoint>;
}
