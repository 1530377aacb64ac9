import type { WireHit } from "@usage/store";

export interface BatcherOptions {
  /** Flush once this many hits wait. */
  maxHits: number;
  /** Flush this long after the first hit of a group arrived. */
  maxWaitMs: number;
  /** Makes one group durable (one BullMQ job); rejects if it could not. */
  flush: (hits: WireHit[]) => Promise<void>;
  onFlush?: (size: number, seconds: number, ok: boolean) => void;
}

interface Group {
  hits: WireHit[];
  waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

/**
 * Group commit: requests hand their hits over and wait; one flush makes a whole group
 * durable and releases every waiter together. Flushes may overlap, so a slow one never
 * stalls the next group.
 */
export class HitBatcher {
  readonly #options: BatcherOptions;
  #group: Group | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #inflight = new Set<Promise<void>>();
  #closed = false;

  constructor(options: BatcherOptions) {
    this.#options = options;
  }

  /** Resolves once the hits are durable. */
  add(hits: readonly WireHit[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("batcher is closed"));
    const group = this.#group ?? { hits: [], waiters: [] };
    this.#group = group;
    for (const hit of hits) group.hits.push(hit);
    const done = new Promise<void>((resolve, reject) => group.waiters.push({ resolve, reject }));
    if (group.hits.length >= this.#options.maxHits) this.#flushNow();
    else this.#timer ??= setTimeout(() => this.#flushNow(), this.#options.maxWaitMs);
    return done;
  }

  get pending(): number {
    return this.#group?.hits.length ?? 0;
  }

  #flushNow(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const group = this.#group;
    this.#group = undefined;
    if (group === undefined) return;
    const started = performance.now();
    const run = this.#options.flush(group.hits).then(
      () => {
        this.#options.onFlush?.(group.hits.length, (performance.now() - started) / 1000, true);
        for (const waiter of group.waiters) waiter.resolve();
      },
      (error: unknown) => {
        this.#options.onFlush?.(group.hits.length, (performance.now() - started) / 1000, false);
        for (const waiter of group.waiters) waiter.reject(error);
      },
    );
    this.#inflight.add(run);
    void run.finally(() => this.#inflight.delete(run));
  }

  /** Flushes what waits and lets in-flight flushes finish; later adds are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#flushNow();
    await Promise.allSettled([...this.#inflight]);
  }
}
