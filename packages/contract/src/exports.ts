import { type Static, Type } from "typebox";
import { DateTime, UUID_PATTERN, Uuid } from "./common.ts";

/** Exports of raw hits as CSV: the requests and answers of /api/exports (the contract's "Exports"). */

export const ExportCreateBody = Type.Object(
  {
    from: Type.String({
      format: "date-time",
      description: "First instant of the range (inclusive); at most RETENTION_DAYS in the past",
    }),
    to: Type.String({ format: "date-time", description: "End of the range (exclusive); after `from`" }),
    client_id: Type.Optional(
      Type.String({
        pattern: UUID_PATTERN,
        description: "Whose hits: a client may only name itself (its own when omitted); the admin names one, or omits it for every client",
      }),
    ),
  },
  { additionalProperties: false },
);
export type ExportCreateBody = Static<typeof ExportCreateBody>;

export const ExportCreated = Type.Object(
  {
    export_id: Uuid,
    status: Type.Literal("queued"),
  },
  { description: "The export is queued; follow it with GET /api/exports/{export_id}" },
);
export type ExportCreated = Static<typeof ExportCreated>;

export const ExportState = Type.Object({
  export_id: Uuid,
  status: Type.Union(
    [Type.Literal("queued"), Type.Literal("running"), Type.Literal("completed"), Type.Literal("failed"), Type.Literal("cancelled")],
    { description: "queued → running → completed | failed; cancelled when its creator or the admin cancelled it before it finished" },
  ),
  progress: Type.Integer({
    minimum: 0,
    maximum: 100,
    description: "Percent of the rows written: floor(processed × 100 / total), at most 100; a completed export without rows is 100",
  }),
  processed: Type.Integer({ minimum: 0, description: "Rows written so far; never decreases" }),
  total: Type.Integer({
    minimum: 0,
    description: "Rows the export will contain: 0 until the export starts running, then the number of stored hits of the range",
  }),
  created_at: DateTime,
  finished_at: Type.Optional(
    Type.String({ format: "date-time", description: "When it completed, failed or was cancelled; absent while unfinished" }),
  ),
  download_url: Type.Optional(
    Type.String({ description: "Where to fetch the CSV (GET, same credentials); present once completed, until the file expires (24 h)" }),
  ),
  error: Type.Optional(Type.String({ description: "Why it failed; present only when failed" })),
});
export type ExportState = Static<typeof ExportState>;

export const ExportParams = Type.Object(
  { export_id: Type.String({ pattern: UUID_PATTERN, description: "The export's id (a UUID)" }) },
  { additionalProperties: false },
);
export type ExportParams = Static<typeof ExportParams>;
