/** What a command prints: aligned tables for people, the API's JSON for scripts. */

export type Cell = string | number | null | undefined;

// C0 and C1 controls (ESC among them): a client's name is stored verbatim and must not drive the terminal.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A value as one safe line of text: control characters shown as \u escapes. */
export const cell = (value: Cell): string => {
  if (value === null || value === undefined) return "-";
  return String(value).replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
};

/** Columns padded to their widest cell, two spaces apart; numbers right-aligned. */
export const table = (headers: string[], rows: Cell[][]): string => {
  const text = rows.map((row) => row.map(cell));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === "number" || row[i] == null));
  const widths = headers.map((header, i) => Math.max(header.length, ...text.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((value, i) => (numeric[i] ? value.padStart(widths[i] ?? 0) : i === cells.length - 1 ? value : value.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...text.map(line)].join("\n");
};

/** Field / value pairs, one per line, for a single resource. */
export const fields = (pairs: Array<[string, Cell]>): string => {
  const width = Math.max(...pairs.map(([name]) => name.length));
  return pairs.map(([name, value]) => `${name.padEnd(width)}  ${cell(value)}`).join("\n");
};

export const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

/** The API's JSON answer, unchanged (indented for reading; the same JSON value). */
export const printJson = (body: unknown): void => {
  print(JSON.stringify(body, null, 2));
};

/** A note for people, on stderr so that stdout stays the data. */
export const note = (text: string): void => {
  process.stderr.write(`${text}\n`);
};
