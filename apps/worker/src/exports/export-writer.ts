import type { ExportRun, ExportStore, ResumePoint } from "@usage/db";
import { type CsvChunk, CsvChunker } from "./csv-chunker.ts";
import { copyWindowSql, recordKey, weekWindows } from "./export-sql.ts";
import type { HitsReader } from "./hits-reader.ts";
import type { ExportPacer } from "./ingest-pacer.ts";

/** The export row's `processed` is written at most this often (each chunk row has the exact count). */
export const PROGRESS_EVERY_MS = 500;

export interface WriteContext {
  store: ExportStore;
  reader: HitsReader;
  run: ExportRun;
  chunkBytes: number;
  pacer: ExportPacer;
  /** Aborted when the run stops (a cancel, the worker's stop): a rest between chunks ends at once. */
  stopped: AbortSignal;
  /** Called when the store refuses a chunk: the export is no longer running. */
  onRefused(): void;
}

/**
 * Copies the range's rows after the resume point into chunks, window by window, oldest
 * first. One chunk commits while the next is read (at most two chunks in memory); a chunk
 * is sent only after the one before it committed, so the chunks' order is the file's and
 * the last committed chunk's key is always where a new run must go on.
 * Returns the file's totals, or "refused" if the export stopped running meanwhile. Settles
 * only once no chunk is in flight any more, whether it returns or throws.
 */
export const writeRange = async (ctx: WriteContext, resume: ResumePoint): Promise<{ rows: number; bytes: number } | "refused"> => {
  const { store, run } = ctx;
  const chunker = new CsvChunker(ctx.chunkBytes);
  let { nextSeq: seq, rows, bytes } = resume;
  let reportedAt = Date.now();
  let inFlight = Promise.resolve(true);
  let committing: CsvChunk | undefined;
  let refused = false;
  /** When the reading of the current chunk began (after the pause that followed the last one). */
  let working = performance.now();

  const commit = async (chunk: CsvChunk): Promise<void> => {
    if (!(await inFlight)) {
      refused = true;
      ctx.onRefused();
      return;
    }
    if (committing !== undefined) chunker.release(committing);
    committing = chunk;
    rows += chunk.rows;
    bytes += chunk.data.length;
    const due = Date.now() - reportedAt >= PROGRESS_EVERY_MS;
    if (due) reportedAt = Date.now();
    const appended = store.append(
      run.exportId,
      { seq: seq++, rows: chunk.rows, last: recordKey(chunk.data, chunk.lastRecord), data: chunk.data },
      due ? { processed: rows, bytes } : undefined,
    );
    // Awaited before the next chunk or at the end; until then a failure must not count as unhandled.
    appended.catch(() => {});
    inFlight = appended;
  };

  const after = resume.last;
  try {
    // One window after the other on one connection. Asking for the next week ahead (its sort
    // beside this week's stream, on a second connection) gained 7 % in one pair of runs, less
    // than the runs differ, for a third connection and the other core taken from ingest.
    for (const window of weekWindows(run.from, run.to)) {
      // Windows wholly before the resume key were written; the one holding it goes on after it.
      if (after !== undefined && window.to <= after.ts) continue;
      const key = after !== undefined && window.from <= after.ts ? after : undefined;
      for await (const data of ctx.reader.copy(copyWindowSql(window, run.clientId, key)) as AsyncIterable<Buffer>) {
        for (const chunk of chunker.push(data)) {
          await commit(chunk);
          await ctx.pacer.pause(performance.now() - working, ctx.stopped);
          working = performance.now();
        }
        if (refused) return "refused";
      }
    }
    const tail = chunker.flush();
    if (tail !== undefined) await commit(tail);
    if (refused || !(await inFlight)) {
      ctx.onRefused();
      return "refused";
    }
    return { rows, bytes };
  } finally {
    await inFlight.catch(() => {});
  }
};
