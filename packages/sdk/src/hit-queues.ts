import type { WireHit } from "./hit.ts";

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

export const OPENED = 1;
export const READY = 2;

export const dispatchable = (chunk: Chunk, flushAt: number): boolean => chunk.sealed || chunk.hits.length >= flushAt;

/** The buffered hits, per API key, and the keys whose next batch may go out (round robin). */
export class HitQueues {
  /** Hits buffered. */
  size = 0;
  readonly #byKey = new Map<string, KeyQueue>();
  #ready: KeyQueue[] = [];
  readonly #flushAt: number;

  constructor(flushAt: number) {
    this.#flushAt = flushAt;
  }

  /**
   * Appends a hit. Answers flags (a number: nothing to allocate per hit): `OPENED` when it
   * opened a chunk, `READY` when its key just became sendable.
   */
  push(key: string, hit: WireHit, epoch: number): number {
    const queue = this.#queue(key);
    let last = queue.chunks[queue.chunks.length - 1];
    let flags = 0;
    if (last === undefined || last.sealed || last.epoch !== epoch || last.hits.length >= this.#flushAt) {
      last = { hits: [], epoch, sealed: false };
      queue.chunks.push(last);
      flags = OPENED;
    }
    last.hits.push(hit);
    this.size++;
    if (queue.ready || last.hits.length < this.#flushAt || queue.chunks[0] !== last) return flags;
    this.#markReady(queue);
    return flags | READY;
  }

  /** Puts hits back before the others of their key (what did not fit in a batch, or its refused half). */
  pushFront(key: string, chunk: Chunk): void {
    const queue = this.#queue(key);
    queue.chunks.unshift(chunk);
    this.size += chunk.hits.length;
    if (!queue.ready) this.#markReady(queue);
  }

  /** The next chunk to send, or undefined. */
  take(): { key: string; chunk: Chunk } | undefined {
    for (let queue = this.#ready.shift(); queue !== undefined; queue = this.#ready.shift()) {
      queue.ready = false;
      const chunk = queue.chunks[0];
      if (chunk === undefined || !dispatchable(chunk, this.#flushAt)) continue;
      queue.chunks.shift();
      this.size -= chunk.hits.length;
      const next = queue.chunks[0];
      if (next === undefined) this.#byKey.delete(queue.key);
      else if (dispatchable(next, this.#flushAt)) this.#markReady(queue);
      return { key: queue.key, chunk };
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
}
