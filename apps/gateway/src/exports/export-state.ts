import type { ExportState } from "@usage/contract";
import type { Export } from "@usage/db";

/** The download's path; the state's `download_url` points there once the file is ready. */
export const downloadPath = (exportId: string): string => `/api/exports/${exportId}/download`;

/** A completed export's file is kept until `expires_at` (24 h after it completed), then 410. */
export const isExpired = (row: Export, nowMs: number): boolean => row.expires_at !== null && row.expires_at.getTime() <= nowMs;

/** Percent of the rows written; a completed export with no rows at all is 100 %. */
const progressOf = (row: Export, total: number): number => {
  if (total > 0) return Math.min(100, Math.floor((row.processed * 100) / total));
  return row.status === "completed" ? 100 : 0;
};

/** The contract's state of an export; optional fields are left out rather than null. */
export const toExportState = (row: Export, nowMs: number): ExportState => {
  // Unknown until the worker counts the range's rows when it starts.
  const total = row.total ?? 0;
  return {
    export_id: row.export_id,
    status: row.status,
    progress: progressOf(row, total),
    processed: row.processed,
    total,
    created_at: row.created_at.toISOString(),
    ...(row.finished_at === null ? {} : { finished_at: row.finished_at.toISOString() }),
    ...(row.status === "completed" && !isExpired(row, nowMs) ? { download_url: downloadPath(row.export_id) } : {}),
    ...(row.error === null ? {} : { error: row.error }),
  };
};
