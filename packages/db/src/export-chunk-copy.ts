import type { ExportChunk } from "./export-store.ts";

/**
 * One `export_chunks` row in Postgres' binary COPY format, as three buffers: the header and
 * every field before `data`, the chunk's own buffer untouched, and the trailer. Sent through
 * `COPY … FROM STDIN (FORMAT binary)`, the chunk goes to the socket as it is; as a bind
 * parameter, pg copied each megabyte twice into buffers of its own, and the worker's capped
 * heap spent its time collecting them (docs/benchmarks.md#exports).
 */
export const CHUNK_COPY_SQL =
  "COPY export_chunks (export_id, seq, rows, last_ts, last_client_id, last_id, data) FROM STDIN (FORMAT binary)";

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const FIELDS = 7;
/** Microseconds from the Unix epoch to Postgres' (2000-01-01T00:00:00Z). */
const PG_EPOCH_MICROS = 946_684_800_000_000n;
const UUID_HEX = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UTC_MICROS_PARTS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})Z$/;

const uuidBytes = (value: string): Buffer => {
  if (!UUID_HEX.test(value)) throw new Error(`not a uuid: "${value}"`);
  return Buffer.from(value.replaceAll("-", ""), "hex");
};

/** A `utcMicros` timestamp as Postgres stores a timestamptz: microseconds since 2000, exactly. */
export const pgTimestampMicros = (ts: string): bigint => {
  const parts = UTC_MICROS_PARTS.exec(ts);
  if (parts === null) throw new Error(`not a UTC timestamp with microseconds: "${ts}"`);
  return BigInt(Date.parse(`${parts[1]}Z`)) * 1000n + BigInt(parts[2] as string) - PG_EPOCH_MICROS;
};

export const encodeChunkRow = (exportId: string, chunk: ExportChunk): [Buffer, Buffer, Buffer] => {
  // signature 11, flags 4, extension length 4, field count 2; then per field its length (4)
  // and value: uuid 16, int4 4, int4 4, timestamptz 8, uuid 16, uuid 16, and data's length.
  const head = Buffer.alloc(SIGNATURE.length + 4 + 4 + 2 + 7 * 4 + 16 + 4 + 4 + 8 + 16 + 16);
  let at = SIGNATURE.copy(head, 0);
  at = head.writeInt32BE(0, at);
  at = head.writeInt32BE(0, at);
  at = head.writeInt16BE(FIELDS, at);
  const field = (value: Buffer): void => {
    at = head.writeInt32BE(value.length, at);
    at += value.copy(head, at);
  };
  const int4 = (value: number): Buffer => {
    const bytes = Buffer.alloc(4);
    bytes.writeInt32BE(value);
    return bytes;
  };
  field(uuidBytes(exportId));
  field(int4(chunk.seq));
  field(int4(chunk.rows));
  const ts = Buffer.alloc(8);
  ts.writeBigInt64BE(pgTimestampMicros(chunk.last.ts));
  field(ts);
  field(uuidBytes(chunk.last.clientId));
  field(uuidBytes(chunk.last.id));
  at = head.writeInt32BE(chunk.data.length, at);
  if (at !== head.length) throw new Error("chunk row header size mismatch");
  // The trailer: a field count of -1.
  return [head, chunk.data, Buffer.from([0xff, 0xff])];
};
