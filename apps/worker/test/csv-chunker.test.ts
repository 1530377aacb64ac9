import { parseCsv } from "@usage/testkit";
import { describe, expect, it } from "vitest";
import { type CsvChunk, CsvChunker } from "../src/exports/csv-chunker.ts";
import { recordKey, weekWindows } from "../src/exports/export-sql.ts";

const ID = "00000000-0000-4000-8000-000000000001";
const CLIENT = "00000000-0000-4000-8000-0000000000c1";
const TS = "2026-11-30T00:00:00.000001Z";

/** Postgres' CSV form: records ended by LF, fields quoted when they need it. */
const pgRecord = (endpoint: string, n: number): string => {
  const quoted = /[",\r\n]/.test(endpoint) || endpoint === "" ? `"${endpoint.replaceAll('"', '""')}"` : endpoint;
  return `${ID.slice(0, -3)}${String(n).padStart(3, "0")},${CLIENT},${TS},192.0.2.1,${quoted},GET,200\n`;
};

const ENDPOINTS = ["/plain", "/a,b", '/q"uote', '""', "/lf\nx", "/crlf\r\ny", "\n", '"\n"', "/é😀", "/cr\r", ""];
const pgOutput = Buffer.from(ENDPOINTS.map((endpoint, n) => pgRecord(endpoint, n)).join(""));

/** Feeds `input` in pieces of the given sizes (cycled), then flushes. */
const feed = (input: Buffer, sizes: number[], target: number): CsvChunk[] => {
  const chunker = new CsvChunker(target);
  const chunks: CsvChunk[] = [];
  for (let at = 0, k = 0; at < input.length; k++) {
    const size = sizes[k % sizes.length] as number;
    chunks.push(...chunker.push(input.subarray(at, at + size)));
    at += size;
  }
  const tail = chunker.flush();
  if (tail !== undefined) chunks.push(tail);
  return chunks;
};

describe("CSV chunker", () => {
  it("ends records with CRLF and leaves LF and CR inside quoted fields as they are, however the input is cut", () => {
    const expected = pgOutput.toString().replace(/,(GET,200)\n/g, ",$1\r\n");
    for (const sizes of [[pgOutput.length], [1], [2], [3], [7, 1, 13], [64]]) {
      const chunks = feed(pgOutput, sizes, 1 << 20);
      expect(Buffer.concat(chunks.map((c) => c.data)).toString()).toBe(expected);
      const rows = parseCsv(expected);
      expect(rows.map((row) => row[4] ?? "")).toEqual(ENDPOINTS);
    }
  });

  it("cuts chunks at record boundaries near the target, counting rows and marking the last record", () => {
    const input = Buffer.concat(Array.from({ length: 50 }, () => pgOutput));
    for (const sizes of [[5], [1000], [input.length]]) {
      const chunks = feed(input, sizes, 300);
      expect(chunks.length).toBeGreaterThan(10);
      let rows = 0;
      for (const chunk of chunks) {
        const records = parseCsv(chunk.data.toString());
        expect(records).toHaveLength(chunk.rows);
        rows += chunk.rows;
        expect(chunk.data.subarray(chunk.lastRecord).toString()).toMatch(/^[0-9a-f-]{36},/);
        expect(recordKey(chunk.data, chunk.lastRecord)).toEqual({ id: records.at(-1)?.[0], clientId: CLIENT, ts: TS });
      }
      expect(rows).toBe(50 * ENDPOINTS.length);
    }
  });

  it("grows for a record longer than a chunk and keeps it whole", () => {
    const long = `/${'x,"\n'.repeat(50_000)}`;
    const input = Buffer.from(pgRecord("/a", 1) + pgRecord(long, 2) + pgRecord("/b", 3));
    const chunks = feed(input, [4096], 1024);
    expect(chunks.map((c) => c.rows)).toEqual([2, 1]);
    expect(parseCsv(Buffer.concat(chunks.map((c) => c.data)).toString()).map((row) => row[4])).toEqual(["/a", long, "/b"]);
  });

  it("refuses output that stops inside a record", () => {
    const chunker = new CsvChunker(1024);
    chunker.push(Buffer.from(`${ID},${CLIENT},${TS},192.0.2.1,"/open`));
    expect(() => chunker.flush()).toThrow(/inside a record/);
  });
});

describe("export windows", () => {
  it("cuts a range at the weekly partitions' bounds, oldest first", () => {
    expect(weekWindows("2026-11-20T10:00:00.000001Z", "2026-12-02T00:00:00.000000Z")).toEqual([
      { from: "2026-11-20T10:00:00.000001Z", to: "2026-11-23T00:00:00.000000Z" },
      { from: "2026-11-23T00:00:00.000000Z", to: "2026-11-30T00:00:00.000000Z" },
      { from: "2026-11-30T00:00:00.000000Z", to: "2026-12-02T00:00:00.000000Z" },
    ]);
    expect(weekWindows("2026-11-23T00:00:00.000000Z", "2026-11-30T00:00:00.000000Z")).toEqual([
      { from: "2026-11-23T00:00:00.000000Z", to: "2026-11-30T00:00:00.000000Z" },
    ]);
    expect(weekWindows("2026-11-29T23:59:59.999999Z", "2026-11-30T00:00:00.000001Z")).toHaveLength(2);
  });
});
