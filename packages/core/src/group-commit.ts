export interface GroupCommitOptions<T> {
  /** Flush at once when this many items wait. */
  maxItems: number;
  /**
   * Extra time a group may wait for company before it flushes (0: only until the end of
   * the current event-loop turn). Groups also grow by themselves while earlier flushes
   * are in flight, so under load batches get large without any added wait.
   */
  lingerMs: number;
  /** Flushes allowed in flight at once; more groups wait for one to finish. */
  maxInFlight: number;
  /** Makes one group durable; rejects if it could not. */
  flush: (items: T[]) => Promise<void>;
  onFlush?: (size: number, seconds: number, ok: boolean) => void;
}

interface Group<T> {
  items: T[];
  waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

/**
 * Group commit: callers hand their items over and wait; one flush makes a whole group
 * durable and releases every waiter together. A group flushes as soon as a flush slot is
 * free (after `lingerMs`), or at once when it reaches `maxItems`: latency is one round trip
 * when idle, and groups grow with the load instead of with a fixed timer. The gateway
 * groups hits into BullMQ jobs with it; the worker groups jobs into one INSERT.
 */
export class GroupCommit<T> {
  readonly #options: GroupCommitOptions<T>;
  #group: Group<T> | undefined;
  #scheduled = false;
  #inFlight = 0;
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(options: GroupCommitOptions<T>) {
    this.#options = options;
  }

  /** Resolves once the items are durable. */
  add(items: readonly T[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("group commit is closed"));
    const group: Group<T> = this.#group ?? { items: [], waiters: [] };
    this.#group = group;
    for (const item of items) group.items.push(item);
    const done = new Promise<void>((resolve, reject) => group.waiters.push({ resolve, reject }));
    if (group.items.length >= this.#options.maxItems) this.#flush(true);
    else this.#schedule();
    return done;
  }

  get pending(): number {
    return this.#group?.items.length ?? 0;
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#options.maxInFlight) return;
    this.#scheduled = true;
    const run = (): void => {
      this.#scheduled = false;
      this.#flush(false);
    };
    if (this.#options.lingerMs > 0) setTimeout(run, this.#options.lingerMs);
    else setImmediate(run);
  }

  #flush(full: boolean): void {
    const group = this.#group;
    if (group === undefined || (!full && this.#inFlight >= this.#options.maxInFlight)) return;
    this.#group = undefined;
    this.#inFlight++;
    const started = performance.now();
    const run = this.#options.flush(group.items).then(
      () => {
        this.#options.onFlush?.(group.items.length, (performance.now() - started) / 1000, true);
        for (const waiter of group.waiters) waiter.resolve();
      },
      (error: unknown) => {
        this.#options.onFlush?.(group.items.length, (performance.now() - started) / 1000, false);
        for (const waiter of group.waiters) waiter.reject(error);
      },
    );
    this.#running.add(run);
    void run.finally(() => {
      this.#running.delete(run);
      this.#inFlight--;
      // What gathered meanwhile goes next.
      if (this.#group !== undefined) this.#schedule();
    });
  }

  /** Flushes what waits and lets in-flight flushes finish; later adds are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#group !== undefined || this.#running.size > 0) {
      this.#flush(true);
      await Promise.allSettled([...this.#running]);
    }
  }
}
