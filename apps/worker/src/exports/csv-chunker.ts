const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
/** Room past the target, so the record that crosses it rarely makes the buffer grow. */
const SLACK = 64 * 1024;

/** A run of whole CSV records, each ended by CRLF. */
export interface CsvChunk {
  data: Buffer;
  /** The allocation `data` is a view of, for `release`. */
  buffer: Buffer;
  rows: number;
  /** Where the last record starts in `data`. */
  lastRecord: number;
}

/**
 * Turns Postgres' CSV output (records ended by LF) into RFC 4180 (CRLF) and cuts it into
 * chunks of about `targetBytes` at record boundaries, whatever the input's own boundaries.
 * A LF inside a quoted field is data and stays as it is; the scanner knows it is inside
 * one by counting quotes (a `""` inside a field closes and reopens it, which comes to the
 * same). Only the next LF and the next quote are looked for, with Buffer.indexOf, so a
 * record without quotes costs one search and one copy.
 */
export class CsvChunker {
  readonly #target: number;
  #buf: Buffer;
  #len = 0;
  #rows = 0;
  #recordStart = 0;
  #lastRecord = 0;
  #inQuotes = false;
  /** Buffers of committed chunks, filled again instead of allocating a megabyte per chunk. */
  readonly #spare: Buffer[] = [];

  constructor(targetBytes: number) {
    this.#target = targetBytes;
    this.#buf = Buffer.allocUnsafe(targetBytes + SLACK);
  }

  /** Feeds COPY output; returns the chunks it completed (usually none, sometimes one). */
  push(input: Buffer): CsvChunk[] {
    const chunks: CsvChunk[] = [];
    const end = input.length;
    let at = 0;
    let from = 0;
    // Positions found earlier in this input, still ahead: -1 none left, -2 not searched yet.
    let nextLf = -2;
    let nextQuote = -2;
    while (at < end) {
      if (this.#inQuotes) {
        const close = input.indexOf(QUOTE, at);
        if (close === -1) break;
        this.#inQuotes = false;
        at = close + 1;
        continue;
      }
      if (nextLf !== -1 && nextLf < at) nextLf = input.indexOf(LF, at);
      if (nextQuote !== -1 && nextQuote < at) nextQuote = input.indexOf(QUOTE, at);
      if (nextQuote !== -1 && (nextLf === -1 || nextQuote < nextLf)) {
        this.#inQuotes = true;
        at = nextQuote + 1;
        continue;
      }
      if (nextLf === -1) break;
      this.#copy(input, from, nextLf, 2);
      this.#buf[this.#len++] = CR;
      this.#buf[this.#len++] = LF;
      this.#rows++;
      this.#lastRecord = this.#recordStart;
      this.#recordStart = this.#len;
      at = from = nextLf + 1;
      if (this.#len >= this.#target) chunks.push(this.#cut());
    }
    this.#copy(input, from, end, 0);
    return chunks;
  }

  /** The records left at the end of the output; throws if it stopped inside one. */
  flush(): CsvChunk | undefined {
    if (this.#inQuotes || this.#len !== this.#recordStart) throw new Error("COPY output ended inside a record");
    return this.#rows > 0 ? this.#cut() : undefined;
  }

  /** Takes a chunk's buffer back once nothing reads its data any more (it is committed). */
  release(chunk: CsvChunk): void {
    if (this.#spare.length < 2 && chunk.buffer.length === this.#target + SLACK) this.#spare.push(chunk.buffer);
  }

  #copy(input: Buffer, from: number, to: number, extra: number): void {
    const needed = this.#len + (to - from) + extra;
    if (needed > this.#buf.length) {
      // A record longer than the slack: grow once to hold it, the next chunk starts small again.
      const grown = Buffer.allocUnsafe(Math.max(needed, this.#buf.length * 2));
      this.#buf.copy(grown, 0, 0, this.#len);
      this.#buf = grown;
    }
    this.#len += input.copy(this.#buf, this.#len, from, to);
  }

  /** Hands the whole records over and starts a new buffer (the old one is in flight). */
  #cut(): CsvChunk {
    const chunk = { data: this.#buf.subarray(0, this.#len), buffer: this.#buf, rows: this.#rows, lastRecord: this.#lastRecord };
    this.#buf = this.#spare.pop() ?? Buffer.allocUnsafe(this.#target + SLACK);
    this.#len = this.#rows = this.#recordStart = this.#lastRecord = 0;
    return chunk;
  }
}
