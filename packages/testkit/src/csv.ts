import { type Db, UTC_MICROS_FORMAT } from "@usage/db";
import { sql } from "kysely";

/** Endpoints a CSV writer or reader gets wrong: every one must come back verbatim. */
export const HOSTILE = [
  "/a,b",
  '/say "hi"',
  '"/starts/with/a/quote',
  '=HYPERLINK("http://evil","x")',
  "/cr\rin the middle",
  "/lf\nin the middle",
  "/crlf\r\nin the middle",
  "\r\n",
  '""',
  '"',
  ",",
  "\\.",
  " /spaces around ",
  "/ünïcödé/日本語/😀",
  "NULL",
  `/long/${'a,"b"\r\nc'.repeat(2_000)}`,
] as const;
/** A CSV field: null for an unquoted empty field (how a SQL NULL is written), else its text. */
export type Field = string | null;

/**
 * An RFC 4180 reader written for the tests, apart from the production code: records end with
 * CRLF, a quoted field holds anything (`""` is one quote), a bare field holds no quote, CR or LF.
 */
export const parseCsv = (text: string): Field[][] => {
  const records: Field[][] = [];
  let fields: Field[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let value = "";
      for (i++; ; ) {
        const quote = text.indexOf('"', i);
        if (quote === -1) throw new Error(`unterminated quoted field at ${i}`);
        value += text.slice(i, quote);
        i = quote + 1;
        if (text[i] !== '"') break;
        value += '"';
        i++;
      }
      fields.push(value);
    } else {
      let end = i;
      while (end < text.length && text[end] !== "," && text[end] !== "\r") end++;
      const bare = text.slice(i, end);
      if (/["\n]/.test(bare)) throw new Error(`bare field with a quote or LF at ${i}: ${JSON.stringify(bare.slice(0, 40))}`);
      fields.push(bare === "" ? null : bare);
      i = end;
    }
    if (text[i] === ",") {
      i++;
      if (i === text.length) throw new Error("file ends after a comma");
    } else if (text.startsWith("\r\n", i)) {
      records.push(fields);
      fields = [];
      i += 2;
    } else throw new Error(`expected a comma or CRLF at ${i}, found ${JSON.stringify(text.slice(i, i + 20))}`);
  }
  if (fields.length > 0) throw new Error("the last record is not ended by CRLF");
  return records;
};

/** The stored hits of a range as the contract's columns, in the export's order. */
export const expectedRows = async (db: Db, from: string, to: string, clientId?: string): Promise<Field[][]> => {
  const { rows } = await sql<{ r: Field[] }>`
    SELECT ARRAY[id::text, client_id::text, to_char(ts AT TIME ZONE 'UTC', ${UTC_MICROS_FORMAT}), host(ip), endpoint, method, status::text] AS r
    FROM hits WHERE ts >= ${from}::timestamptz AND ts < ${to}::timestamptz
    ${clientId === undefined ? sql`` : sql`AND client_id = ${clientId}::uuid`}
    ORDER BY ts, client_id, id`.execute(db);
  return rows.map((row) => row.r);
};
