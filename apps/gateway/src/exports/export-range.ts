import { AppError, DAY_MS } from "@usage/core";

/**
 * A `from` computed as "RETENTION_DAYS ago" by the caller reaches the gateway a little later,
 * so it is a few milliseconds older than the limit: this much is forgiven.
 */
const CLOCK_GRACE_MS = 5 * 60_000;

export interface ExportRange {
  from: Date;
  to: Date;
}

const parse = (text: string, field: "from" | "to"): Date => {
  const ms = Date.parse(text);
  // The schema checked the shape; a date that does not exist (Feb 30) still fails here.
  if (Number.isNaN(ms)) throw new AppError("VALIDATION_ERROR", `body/${field} is not a valid date-time`);
  return new Date(ms);
};

/**
 * The range of an export: `from` < `to`, and `from` no older than the retention limit
 * (older hits are dropped, so an export could not be exact). No upper bound on its length.
 */
export const exportRange = (body: { from: string; to: string }, retentionDays: number, nowMs: number): ExportRange => {
  const from = parse(body.from, "from");
  const to = parse(body.to, "to");
  if (from.getTime() >= to.getTime()) throw new AppError("VALIDATION_ERROR", "body/from must be before body/to");
  if (from.getTime() < nowMs - retentionDays * DAY_MS - CLOCK_GRACE_MS)
    throw new AppError(
      "VALIDATION_ERROR",
      `body/from is more than ${retentionDays} days in the past: hits older than RETENTION_DAYS (${retentionDays}) are not kept`,
    );
  return { from, to };
};
