import { utf8Length, type WireHit } from "./hit.ts";

/**
 * Up to `flushAt` hits of one key and one flush epoch, in arrival order. A chunk is sent when
 * full or sealed (by the flush timer or a flush()); a sealed chunk takes no more hits.
 */
export interface Chunk {
  hits: WireHit[];
  epoch: number;
  sealed: boolean;
}

interface KeyQueue {
  key: string;
  chunks: Chunk[];
  /** In the ready list: its first chunk may be sent. */
  ready: boolean;
}

export interface Taken {
  key: string;
  epoch: number;
  hits: WireHit[];
  /** Each hit as JSON, the batch body's items. */
  parts: string[];
}

const BODY_OVERHEAD = '{"hits":[]}'.length;
const MIN_BYTE_LIMIT = 1024;

export const dispatchable = (chunk: Chunk, flushAt: number): boolean => chunk.sealed || chunk.hits.length >= flushAt;

/** The buffered hits, per API key, and the keys whose next batch may go out (round robin). */
export class HitQueues {
  /** Hits buffered. */
  size = 0;
  readonly #byKey = new Map<string, KeyQueue>();
  #ready: KeyQueue[] = [];
  readonly #flushAt: number;
  #byteLimit: number;

  constructor(flushAt: number, maxBatchBytes: number) {
    this.#flushAt = flushAt;
    this.#byteLimit = maxBatchBytes;
  }

  /** Appends a hit; `created` when it opened a chunk, `ready` when its key just became sendable. */
  push(key: string, hit: WireHit, epoch: number): { created: boolean; ready: boolean } {
    const queue = this.#queue(key);
    let last = queue.chunks[queue.chunks.length - 1];
    let created = false;
    if (last === undefined || last.sealed || last.epoch !== epoch || last.hits.length >= this.#flushAt) {
      last = { hits: [], epoch, sealed: false };
      queue.chunks.push(last);
      created = true;
    }
    last.hits.push(hit);
    this.size++;
    if (queue.ready || last.hits.length < this.#flushAt || queue.chunks[0] !== last) return { created, ready: false };
    this.#markReady(queue);
    return { created, ready: true };
  }

  /** Puts hits back before the others of their key (the second half of a batch refused as too large). */
  pushFront(key: string, chunk: Chunk): void {
    const queue = this.#queue(key);
    queue.chunks.unshift(chunk);
    this.size += chunk.hits.length;
    if (!queue.ready) this.#markReady(queue);
  }

  /** The next batch to send, serialised and under the byte limit, or undefined. */
  take(): Taken | undefined {
    for (let queue = this.#ready.shift(); queue !== undefined; queue = this.#ready.shift()) {
      queue.ready = false;
      const chunk = queue.chunks[0];
      if (chunk === undefined || !dispatchable(chunk, this.#flushAt)) continue;
      queue.chunks.shift();
      const { parts, cut } = this.#serialize(chunk.hits);
      if (cut < chunk.hits.length) queue.chunks.unshift({ hits: chunk.hits.splice(cut), epoch: chunk.epoch, sealed: true });
      this.size -= chunk.hits.length;
      const next = queue.chunks[0];
      if (next === undefined) this.#byKey.delete(queue.key);
      else if (dispatchable(next, this.#flushAt)) this.#markReady(queue);
      return { key: queue.key, epoch: chunk.epoch, hits: chunk.hits, parts };
    }
    return undefined;
  }

  /** Seals every partial chunk, so that all buffered hits go out now. */
  sealAll(): void {
    for (const queue of this.#byKey.values()) {
      const last = queue.chunks[queue.chunks.length - 1];
      if (last !== undefined && last.hits.length > 0) last.sealed = true;
      if (!queue.ready && queue.chunks.length > 0) this.#markReady(queue);
    }
  }

  /** Takes out every chunk of the given epoch or older (a flush deadline). */
  removeUpTo(epoch: number): Chunk[] {
    const removed: Chunk[] = [];
    for (const queue of this.#byKey.values()) {
      const kept = queue.chunks.filter((chunk) => chunk.epoch > epoch);
      if (kept.length === queue.chunks.length) continue;
      for (const chunk of queue.chunks) if (chunk.epoch <= epoch) removed.push(chunk);
      queue.chunks = kept;
      if (kept.length === 0) this.#byKey.delete(queue.key);
    }
    for (const chunk of removed) this.size -= chunk.hits.length;
    return removed;
  }

  /** After a 413: later batches stay under half the refused body. */
  lowerByteLimit(refusedBytes: number): void {
    this.#byteLimit = Math.max(MIN_BYTE_LIMIT, Math.min(this.#byteLimit, Math.floor(refusedBytes / 2)));
  }

  #queue(key: string): KeyQueue {
    let queue = this.#byKey.get(key);
    if (queue === undefined) {
      queue = { key, chunks: [], ready: false };
      this.#byKey.set(key, queue);
    }
    return queue;
  }

  #markReady(queue: KeyQueue): void {
    queue.ready = true;
    this.#ready.push(queue);
  }

  /** JSON of each hit, cut where the body would pass the byte limit (never before the first). */
  #serialize(hits: readonly WireHit[]): { parts: string[]; cut: number } {
    const parts: string[] = [];
    let chars = BODY_OVERHEAD;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: exact sizes only once that bound nears the limit.
    let exact = -1;
    for (let i = 0; i < hits.length; i++) {
      const part = JSON.stringify(hits[i]);
      const separator = i > 0 ? 1 : 0;
      if (exact < 0 && (chars + part.length + separator) * 3 > this.#byteLimit) exact = bodyBytes(parts);
      if (exact >= 0) {
        const bytes = utf8Length(part) + separator;
        if (i > 0 && exact + bytes > this.#byteLimit) return { parts, cut: i };
        exact += bytes;
      }
      chars += part.length + separator;
      parts.push(part);
    }
    return { parts, cut: hits.length };
  }
}

/** Exact size of the body `{"hits":[parts…]}`. */
export const bodyBytes = (parts: readonly string[]): number => {
  let bytes = BODY_OVERHEAD + Math.max(0, parts.length - 1);
  for (const part of parts) bytes += utf8Length(part);
  return bytes;
};
