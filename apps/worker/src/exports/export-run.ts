import type { Logger } from "@usage/core";
import {
  completeExportRun,
  type Db,
  type ExportStatus,
  type ExportStore,
  exportStatus,
  loadExportRun,
  setExportTotal,
  startExportRun,
} from "@usage/db";
import { countQuery } from "./export-sql.ts";
import { writeRange } from "./export-writer.ts";
import { type HitsReader, openHitsReader } from "./hits-reader.ts";
import type { ExportPacer } from "./ingest-pacer.ts";

/** How often a running export reads its status: a cancel is seen within this (the contract allows 2 s). */
export const CANCEL_POLL_MS = 500;

export interface ExportRunDeps {
  db: Db;
  store: ExportStore;
  /** For the export's own connection (its COPY). */
  databaseUrl: string;
  chunkBytes: number;
  pacer: ExportPacer;
  log: Logger;
  /** Aborted when the worker stops: the run ends after its chunk in flight, to resume later. */
  shutdown: AbortSignal;
}

/** A failure no retry can fix; its message is what the export's row says (no internals). */
export class ExportFailure extends Error {
  override name = "ExportFailure";
}

export interface ExportResult {
  /** "interrupted": the worker is stopping; the job goes back to wait and resumes. */
  outcome: ExportStatus | "interrupted";
  rows: number;
  bytes: number;
}

/** Runs (or resumes) one export to its end, a cancel, or the worker's stop. */
export const runExport = async (deps: ExportRunDeps, exportId: string): Promise<ExportResult> => {
  const { db, store, log } = deps;
  const run = await loadExportRun(db, exportId);
  if (run === undefined) throw new ExportFailure("export not found");
  const ended = async (status: ExportStatus): Promise<ExportResult> => {
    // A cancelled or failed export keeps no partial file, also when its worker died before removing it.
    if (status !== "completed") await store.remove(exportId);
    return { outcome: status, rows: 0, bytes: 0 };
  };
  if (run.status !== "queued" && run.status !== "running") return ended(run.status);
  if (deps.shutdown.aborted) return { outcome: "interrupted", rows: 0, bytes: 0 };
  if (!(await startExportRun(db, exportId))) return ended((await exportStatus(db, exportId)) ?? "cancelled");

  // One connection for the rows, and on the first start a second that counts the range
  // meanwhile: the count scans the whole range (seconds on millions of rows) and need not
  // delay them.
  const readers: HitsReader[] = [];
  try {
    while (readers.length < (run.total === null ? 2 : 1)) readers.push(await openHitsReader(deps.databaseUrl, db));
  } catch (error) {
    await Promise.all(readers.map((each) => each.close()));
    throw error;
  }
  const [reader, counter] = readers as [HitsReader, HitsReader | undefined];
  let stopped: "cancelled" | "interrupted" | "failed" | undefined;
  let failure: unknown;
  const halted = new AbortController();
  const stop = (why: NonNullable<typeof stopped>): void => {
    stopped ??= why;
    halted.abort();
    for (const each of readers) void each.abort();
  };
  const onShutdown = (): void => stop("interrupted");
  deps.shutdown.addEventListener("abort", onShutdown);
  // Polled on a timer, not between chunks: a COPY still sorting its window sends nothing for seconds.
  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    exportStatus(db, exportId)
      .then((status) => status !== "running" && stop("cancelled"))
      .catch(() => {})
      .finally(() => {
        polling = false;
      });
  }, CANCEL_POLL_MS);
  const counting = (async () => {
    if (counter === undefined) return;
    try {
      await setExportTotal(db, exportId, await counter.count(countQuery(run.from, run.to, run.clientId)));
    } catch (error) {
      if (stopped !== undefined) return;
      failure = error;
      stop("failed");
    }
  })();

  let written: Awaited<ReturnType<typeof writeRange>> | undefined;
  try {
    const resume = await store.resumePoint(exportId);
    if (resume.last !== undefined) log.info({ resumeAfter: resume.last, rows: resume.rows, nextSeq: resume.nextSeq }, "export resumed");
    written = await writeRange(
      { store, reader, run, chunkBytes: deps.chunkBytes, pacer: deps.pacer, stopped: halted.signal, onRefused: () => stop("cancelled") },
      resume,
    );
  } catch (error) {
    // Aborted on purpose: the error is the abort's (a cancelled statement, a destroyed stream).
    if (stopped === undefined) throw error;
  } finally {
    clearInterval(poll);
    deps.shutdown.removeEventListener("abort", onShutdown);
    // Not finished: nothing may go on on the server (a COPY, the count). Else
    // the count must be in before the completion, which replaces it.
    if (written === undefined) await Promise.all(readers.map((each) => each.abort()));
    await counting;
    await Promise.all(readers.map((each) => each.close()));
  }

  if (stopped === "failed") throw failure;
  if (stopped === "interrupted") return { outcome: "interrupted", rows: 0, bytes: 0 };
  if (stopped === "cancelled" || written === undefined || written === "refused") return ended("cancelled");
  if (!(await completeExportRun(db, exportId, written))) return ended((await exportStatus(db, exportId)) ?? "cancelled");
  log.info({ rows: written.rows, bytes: written.bytes }, "export completed");
  return { outcome: "completed", ...written };
};
