import { DAY_MS } from "@usage/core";
import { type ExportKey, UTC_MICROS, UTC_MICROS_FORMAT, utcMicros, weekStart } from "@usage/db";
import pg from "pg";

const WEEK_MS = 7 * DAY_MS;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A sub-range [from, to) of an export, within one weekly partition of `hits`. */
export interface ExportWindow {
  from: string;
  to: string;
}

/**
 * COPY takes no bind parameters, so its values are inlined as literals: only values of a
 * checked shape (a UUID as Postgres prints it, a timestamp in the export's form), quoted by
 * pg's escapeLiteral all the same.
 */
const literal = (value: string, shape: RegExp, what: string): string => {
  if (!shape.test(value)) throw new Error(`refusing to inline ${what} "${value}" into COPY`);
  return pg.escapeLiteral(value);
};
const uuid = (value: string): string => `${literal(value, UUID, "uuid")}::uuid`;
const ts = (value: string): string => `${literal(value, UTC_MICROS, "timestamp")}::timestamptz`;

/**
 * [from, to) cut at the weekly partitions' bounds (Monday 00:00 UTC, as partitions.ts cuts
 * them), oldest first: each COPY sorts one week, not the whole range, and starts sending
 * rows after that much work. The times are `utcMicros` strings, which compare as text.
 */
export const weekWindows = (from: string, to: string): ExportWindow[] => {
  const windows: ExportWindow[] = [];
  for (let start = weekStart(Date.parse(`${from.slice(0, 23)}Z`)); utcMicros(start) < to; start += WEEK_MS) {
    const lower = utcMicros(start) > from ? utcMicros(start) : from;
    const upper = utcMicros(start + WEEK_MS) < to ? utcMicros(start + WEEK_MS) : to;
    if (lower < upper) windows.push({ from: lower, to: upper });
  }
  return windows;
};

/**
 * Memory for the sort of one week's rows, per export: Postgres memory, not the worker's. The
 * benchmark's raw COPY uses the same, so the two are compared like for like.
 */
export const EXPORT_WORK_MEM = "64MB";

/** The columns of the contract's header `id,client_id,timestamp,ip,endpoint,method,status`. */
export const EXPORT_COLUMNS = `id, client_id, to_char(ts AT TIME ZONE 'UTC', '${UTC_MICROS_FORMAT}'), host(ip), endpoint, method, status`;
export const EXPORT_ORDER = "ts, client_id, id";

const clientFilter = (clientId: string | null): string => (clientId === null ? "" : ` AND client_id = ${uuid(clientId)}`);

/** One window's rows after `after` (a resumed export), in the export's order, as CSV. */
export const copyWindowSql = (window: ExportWindow, clientId: string | null, after: ExportKey | undefined): string => {
  const resume = after === undefined ? "" : ` AND (ts, client_id, id) > (${ts(after.ts)}, ${uuid(after.clientId)}, ${uuid(after.id)})`;
  return (
    `COPY (SELECT ${EXPORT_COLUMNS} FROM hits WHERE ts >= ${ts(window.from)} AND ts < ${ts(window.to)}` +
    `${clientFilter(clientId)}${resume} ORDER BY ${EXPORT_ORDER}) TO STDOUT (FORMAT csv)`
  );
};

const MIDNIGHT = "T00:00:00.000000Z";
const dayOf = (ts: string): string => ts.slice(0, 10);
const nextDay = (day: string): string => new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);

/**
 * The range's row count when the export starts (a plain query: bound values). Whole UTC
 * days come from `usage_daily`, which the worker's insert keeps equal to the day's hits in
 * the same statement; only the partial days at the ends are counted in `hits`. Counting ten
 * million rows took 2–3 s of a Postgres core beside the export's COPY; the days' rollups are
 * a few thousand rows. Exact as long as that invariant holds, and the completion sets
 * `total` to the rows written in any case.
 */
export const countQuery = (from: string, to: string, clientId: string | null): { text: string; values: string[] } => {
  const firstWhole = from.endsWith(MIDNIGHT) ? dayOf(from) : nextDay(dayOf(from));
  const endWhole = dayOf(to);
  const client = (at: number): string => (clientId === null ? "" : ` AND client_id = $${at}::uuid`);
  const clientValue = clientId === null ? [] : [clientId];
  if (firstWhole >= endWhole) {
    return {
      text: `SELECT count(*)::bigint AS n FROM hits WHERE ts >= $1::timestamptz AND ts < $2::timestamptz${client(3)}`,
      values: [from, to, ...clientValue],
    };
  }
  const values = [from, to, firstWhole, endWhole, ...clientValue];
  return {
    text:
      `SELECT (SELECT coalesce(sum(total), 0) FROM usage_daily WHERE day >= $3::date AND day < $4::date${client(5)})` +
      ` + (SELECT count(*) FROM hits WHERE ((ts >= $1::timestamptz AND ts < $3::date::timestamptz)` +
      ` OR (ts >= $4::date::timestamptz AND ts < $2::timestamptz))${client(5)}) AS n`,
    values,
  };
};

/** The first three fields of a record: never quoted (a UUID, a UUID, a timestamp). */
const KEY_FIELDS = /^([0-9a-f-]{36}),([0-9a-f-]{36}),(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z),/;
const KEY_BYTES = 36 + 1 + 36 + 1 + 27 + 1;

/** The key of the record starting at `start`, where the export resumes after it. */
export const recordKey = (data: Buffer, start: number): ExportKey => {
  const match = KEY_FIELDS.exec(data.toString("latin1", start, start + KEY_BYTES));
  if (match === null) throw new Error(`unexpected record start "${data.toString("utf8", start, start + KEY_BYTES)}"`);
  return { id: match[1] as string, clientId: match[2] as string, ts: match[3] as string };
};
