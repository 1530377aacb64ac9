import { randomUUID } from "node:crypto";
import type { ExportCreateBody, ExportCreated, ExportState } from "@usage/contract";
import { AppError, type Logger } from "@usage/core";
import {
  cancelExport,
  createExport,
  type Db,
  type Export,
  type ExportFiles,
  failQueuedExport,
  getExport,
  MAX_UNFINISHED_EXPORTS,
} from "@usage/db";
import { type ExportJob, enqueueExport } from "@usage/store";
import type { Queue } from "bullmq";
import type { Principal } from "../auth/auth-service.ts";
import type { ClientDirectory } from "../auth/client-directory.ts";
import { type ExportFile, openExportFile } from "./csv-download.ts";
import { exportRange } from "./export-range.ts";
import { toExportState } from "./export-state.ts";

/** Exports behind /api/exports: rows in Postgres, the work in the worker through the export queue. */
export interface ExportService {
  create(caller: Principal, body: ExportCreateBody): Promise<ExportCreated>;
  state(caller: Principal, exportId: string): Promise<ExportState>;
  cancel(caller: Principal, exportId: string): Promise<ExportState>;
  download(caller: Principal, exportId: string): Promise<ExportFile>;
}

export interface ExportServiceDeps {
  db: Db;
  queue: Queue<ExportJob>;
  directory: ClientDirectory;
  /** Where the files are (packages/db export-store.ts): the download reads them, a cancel removes them. */
  files: Pick<ExportFiles, "read" | "remove">;
  retentionDays: number;
  log: Logger;
  now?: () => number;
}

/** How long a caller at the limit should wait: an export of a day's hits takes seconds. */
const LIMIT_RETRY_AFTER_S = 10;

/** The owner recorded on an export: the client's id, or "admin" (the admin token's `sub`). */
const ownerOf = (caller: Principal): string => (caller.role === "admin" ? "admin" : caller.sub.toLowerCase());

const notFound = (): AppError => new AppError("NOT_FOUND", "no export with this id");

export const createExportService = ({
  db,
  queue,
  directory,
  files,
  retentionDays,
  log,
  now = Date.now,
}: ExportServiceDeps): ExportService => {
  /** Another caller's export is answered like an unknown one: its existence is not the caller's business. */
  const visible = async (caller: Principal, exportId: string): Promise<Export> => {
    const row = await getExport(db, exportId);
    if (row === undefined || (caller.role !== "admin" && row.owner !== ownerOf(caller))) throw notFound();
    return row;
  };

  /** Whose hits: a client only its own; the admin one client (which must exist) or every client (null). */
  const subjectOf = async (caller: Principal, clientId: string | undefined): Promise<string | null> => {
    if (caller.role !== "admin") {
      if (clientId !== undefined && clientId.toLowerCase() !== ownerOf(caller))
        throw new AppError("FORBIDDEN", "a client may only export its own hits");
      return ownerOf(caller);
    }
    if (clientId === undefined) return null;
    const canonical = clientId.toLowerCase();
    if ((await directory.byId(canonical)) === undefined) throw new AppError("NOT_FOUND", "no client with this id");
    return canonical;
  };

  return {
    async create(caller, body) {
      const range = exportRange(body, retentionDays, now());
      const clientId = await subjectOf(caller, body.client_id);
      const exportId = randomUUID();
      const created = await createExport(db, { exportId, owner: ownerOf(caller), clientId, ...range });
      if (created === "limit")
        throw new AppError("RATE_LIMITED", `at most ${MAX_UNFINISHED_EXPORTS} unfinished exports per caller: wait for one or cancel one`, {
          retryAfter: LIMIT_RETRY_AFTER_S,
        });
      // The row first: a worker taking the job at once must find it.
      try {
        await enqueueExport(queue, exportId);
      } catch (error) {
        // Failed, not left queued: a queued export without a job would hold one of the caller's 3 places for good.
        await failQueuedExport(db, exportId, "the export could not be queued").catch((cause: unknown) =>
          log.error({ err: cause, export_id: exportId }, "export left queued without a job"),
        );
        throw new AppError("UNAVAILABLE", "the export could not be queued, retry later", { cause: error, retryAfter: 1 });
      }
      return { export_id: exportId, status: "queued" };
    },

    async state(caller, exportId) {
      return toExportState(await visible(caller, exportId), now());
    },

    async cancel(caller, exportId) {
      await visible(caller, exportId);
      const result = await cancelExport(db, exportId);
      if (result === undefined) throw notFound();
      if (result.changed) {
        // The worker removes a running export's output too (it may write one more chunk after
        // this); a queued export has none. Cancelled it is either way, so a failure here only logs.
        await files
          .remove(result.row.export_id)
          .catch((error: unknown) => log.warn({ err: error, export_id: exportId }, "partial export output not removed"));
      }
      return toExportState(result.row, now());
    },

    async download(caller, exportId) {
      return openExportFile(await visible(caller, exportId), (id) => files.read(id), now());
    },
  };
};
