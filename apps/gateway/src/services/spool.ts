import { mkdirSync } from "node:fs";
import { type FileHandle, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { WireHit } from "@usage/store";

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

const ACTIVE = /^active-(\d+)-(\d+)\.jsonl$/;
const READY = /^ready-\d+-\d+\.jsonl$/;

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
 * Segments: this process writes `active-<pid>-<n>.jsonl`; `rotate()` seals it as
 * `ready-…` for replay. A segment left `active` by a dead process is replayable too.
 */
export class Spool {
  readonly #dir: string;
  readonly #maxBytes: number;
  #handle: FileHandle | undefined;
  #segment = 0;
  #bytes = 0;
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
      try {
        this.#handle ??= await open(join(this.#dir, `active-${process.pid}-${++this.#segment}.jsonl`), "a");
        await this.#handle.write(Buffer.concat(group.map((p) => p.line)));
        await this.#handle.datasync();
        for (const p of group) p.resolve();
        this.#onAppend?.(group.reduce((sum, p) => sum + p.hits, 0));
      } catch (error) {
        for (const p of group) p.reject(error);
      }
    }
    this.#writing = undefined;
  }

  /** Seals the segment being written so it can be replayed; later appends start a new one. */
  async rotate(): Promise<void> {
    await this.#writing;
    const handle = this.#handle;
    if (handle === undefined) return;
    this.#handle = undefined;
    await handle.close();
    const name = `active-${process.pid}-${this.#segment}.jsonl`;
    await rename(join(this.#dir, name), join(this.#dir, name.replace(/^active/, "ready")));
  }

  /** Segments ready for replay: sealed ones, and active ones of processes that died. */
  async replayable(): Promise<string[]> {
    const names = await readdir(this.#dir);
    const out: string[] = [];
    for (const name of names.sort()) {
      if (READY.test(name)) out.push(name);
      const active = ACTIVE.exec(name);
      if (active !== null && Number(active[1]) !== process.pid && !isAlive(Number(active[1]))) out.push(name);
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
  }

  /** Bytes held (this process's view), for metrics and the size bound. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Counts what earlier runs left behind toward the bound. */
  async init(): Promise<void> {
    for (const name of await readdir(this.#dir)) {
      if (READY.test(name) || ACTIVE.test(name)) this.#bytes += (await stat(join(this.#dir, name))).size;
    }
  }

  /** Seals the current segment: the next start (or another gateway) replays it. */
  async close(): Promise<void> {
    await this.rotate();
  }
}
