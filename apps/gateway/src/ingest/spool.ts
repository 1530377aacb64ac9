import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { type FileHandle, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { WireHit } from "@usage/contract";

/** One line of a spool segment: a group of hits, and whether Redis already counted them. */
export interface SpoolRecord {
  counted: boolean;
  hits: WireHit[];
}

export class SpoolFullError extends Error {}

interface Pending {
  line: Buffer;
  hits: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const ACTIVE = /^active-(\d+)-([0-9a-f]+)-(\d+)\.jsonl$/;
const READY = /^ready-\d+-[0-9a-f]+-\d+\.jsonl$/;

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * The local append-only spool that keeps hits durable while Redis is unreachable. Appends
 * are grouped: every record waiting when a write starts goes out in one write and one
 * fdatasync, and each caller is released only after that sync (group commit, like the
 * batcher). Bounded: past `maxBytes` an append is refused, never silently dropped.
 *
 * Segments: this run writes `active-<pid>-<run>-<n>.jsonl` (the run id is random, so a
 * restarted container that gets the same pid never mistakes an old segment for its own);
 * `rotate()` seals it as `ready-…` for replay. A segment left `active` by another run whose
 * process is gone is replayable too.
 */
export class Spool {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #run = randomBytes(6).toString("hex");
  /** The segment being written: handle, name and how many bytes are known good. */
  #current: { handle: FileHandle; name: string; offset: number } | undefined;
  #segment = 0;
  #bytes = 0;
  /** Segment files held: sealed, active, and those earlier runs left behind. */
  #segments = 0;
  #queue: Pending[] = [];
  #writing: Promise<void> | undefined;

  readonly #onAppend: ((hits: number) => void) | undefined;

  constructor(dir: string, maxBytes: number, onAppend?: (hits: number) => void) {
    this.#dir = dir;
    this.#maxBytes = maxBytes;
    this.#onAppend = onAppend;
    mkdirSync(dir, { recursive: true });
  }

  /** Resolves once the record is on disk (fdatasync). */
  append(record: SpoolRecord): Promise<void> {
    const line = Buffer.from(`${JSON.stringify([record.counted ? 1 : 0, record.hits])}\n`);
    if (this.#bytes + line.length > this.#maxBytes) return Promise.reject(new SpoolFullError("spool is full"));
    this.#bytes += line.length;
    return new Promise((resolve, reject) => {
      this.#queue.push({ line, hits: record.hits.length, resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue;
      this.#queue = [];
      const data = Buffer.concat(group.map((p) => p.line));
      let current = this.#current;
      try {
        if (current === undefined) {
          const name = `active-${process.pid}-${this.#run}-${++this.#segment}.jsonl`;
          current = { handle: await open(join(this.#dir, name), "wx"), name, offset: 0 };
          this.#current = current;
          this.#segments += 1;
        }
        // A write may be short: loop until every byte is down, then sync.
        for (let done = 0; done < data.length; ) {
          const { bytesWritten } = await current.handle.write(data, done, data.length - done, current.offset + done);
          done += bytesWritten;
        }
        await current.handle.datasync();
        current.offset += data.length;
        for (const p of group) p.resolve();
        this.#onAppend?.(group.reduce((sum, p) => sum + p.hits, 0));
      } catch (error) {
        // Cut back to the last synced record, so a torn write cannot swallow the next one.
        await current?.handle.truncate(current.offset).catch(() => {});
        this.#bytes -= data.length;
        for (const p of group) p.reject(error);
      }
    }
    this.#writing = undefined;
  }

  /** Seals the segment being written so it can be replayed; later appends start a new one. */
  async rotate(): Promise<void> {
    // Wait until no write is under way, then take the segment in the same turn: appends
    // arriving from here on open a new one.
    while (this.#writing !== undefined) await this.#writing;
    const current = this.#current;
    if (current === undefined) return;
    this.#current = undefined;
    await current.handle.close();
    await rename(join(this.#dir, current.name), join(this.#dir, current.name.replace(/^active/, "ready")));
  }

  /** Segments ready for replay: sealed ones, and active ones of processes that died. */
  async replayable(): Promise<string[]> {
    const names = await readdir(this.#dir);
    const out: string[] = [];
    for (const name of names.sort()) {
      if (READY.test(name)) out.push(name);
      const active = ACTIVE.exec(name);
      if (active === null || active[2] === this.#run) continue;
      // Another run's segment: replayable once its process is gone (or the pid is ours now).
      const pid = Number(active[1]);
      if (pid === process.pid || !isAlive(pid)) out.push(name);
    }
    return out;
  }

  /** The records of a segment; a torn last line (a crash mid-write, never acknowledged) is skipped. */
  async read(name: string): Promise<SpoolRecord[]> {
    const text = await readFile(join(this.#dir, name), "utf8");
    const records: SpoolRecord[] = [];
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        const [counted, hits] = JSON.parse(line) as [number, WireHit[]];
        records.push({ counted: counted === 1, hits });
      } catch {
        // Only the last line can be torn, and it was never synced nor acknowledged.
      }
    }
    return records;
  }

  async remove(name: string): Promise<void> {
    const path = join(this.#dir, name);
    const { size } = await stat(path);
    await unlink(path);
    this.#bytes = Math.max(0, this.#bytes - size);
    this.#segments = Math.max(0, this.#segments - 1);
  }

  /** Bytes held (this process's view), for metrics and the size bound. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Segment files held (this process's view, like `bytes`), for the operations figures. */
  get segments(): number {
    return this.#segments;
  }

  /** Counts what earlier runs left behind toward the bound. */
  async init(): Promise<void> {
    for (const name of await readdir(this.#dir)) {
      if (!READY.test(name) && !ACTIVE.test(name)) continue;
      this.#bytes += (await stat(join(this.#dir, name))).size;
      this.#segments += 1;
    }
  }

  /** Seals the current segment: the next start (or another gateway) replays it. */
  async close(): Promise<void> {
    await this.rotate();
  }
}
