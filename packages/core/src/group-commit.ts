export interface GroupCommitOptions<T, R> {
  /** Flush at once when the waiting items weigh this much. */
  maxItems: number;
  /** What one item counts towards `maxItems` (default 1). */
  weigh?: (item: T) => number;
  /**
   * Extra time a group may wait for company before it flushes (0: only until the end of
   * the current event-loop turn). Groups also grow by themselves while earlier flushes
   * are in flight, so under load batches get large without any added wait.
   */
  lingerMs: number;
  /** Flushes allowed in flight at once; more groups wait for one to finish. */
  maxInFlight: number;
  /**
   * The least time between the starts of two flushes (0: none). An item arriving when no
   * flush started for that long goes at once, so an idle caller waits for nothing; under
   * load, groups gather for up to this long and the flushes per second stay bounded
   * whatever the rate, so their fixed cost per item falls as the load rises.
   */
  spacingMs?: number;
  /**
   * With spacingMs: whether a group still waits for the spacing (default: always). One that
   * no longer does goes as soon as a slot is free: a group large enough to pay for its
   * flush, say, or one whose callers hold something scarce while they wait.
   */
  spaced?: (group: { weight: number; items: number }) => boolean;
  /**
   * Makes one group durable; rejects if it could not. With a result type, answers one
   * result per item, in order: each caller then gets the results of its own items.
   */
  flush: (items: T[]) => Promise<[R] extends [never] ? void : readonly R[]>;
  /** After each flush, with the group's weight (its item count by default). */
  onFlush?: (weight: number, seconds: number, ok: boolean) => void;
}

interface Waiter<R> {
  /** Where the caller's items sit in the group. */
  from: number;
  to: number;
  resolve: (results: R[]) => void;
  reject: (error: unknown) => void;
}

interface Group<T, R> {
  items: T[];
  weight: number;
  waiters: Array<Waiter<R>>;
}

/**
 * Group commit: callers hand their items over and wait; one flush makes a whole group
 * durable and releases every waiter together. A group flushes as soon as a flush slot is
 * free (after `lingerMs`), or at once when it reaches `maxItems`: latency is one round trip
 * when idle, and groups grow with the load instead of with a fixed timer. The gateway
 * counts the requests of a turn in one Redis script and groups hits into BullMQ jobs with
 * it; the worker groups jobs into one INSERT.
 */
export class GroupCommit<T, R = never> {
  readonly #options: GroupCommitOptions<T, R>;
  #group: Group<T, R> | undefined;
  #scheduled = false;
  #inFlight = 0;
  /** When the last flush started (performance.now()). */
  #lastStart = Number.NEGATIVE_INFINITY;
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(options: GroupCommitOptions<T, R>) {
    this.#options = options;
  }

  /** Resolves once the items are durable, with their results when the flush gives any. */
  add(items: readonly T[]): Promise<R[]> {
    if (this.#closed) return Promise.reject(new Error("group commit is closed"));
    const group: Group<T, R> = this.#group ?? { items: [], weight: 0, waiters: [] };
    this.#group = group;
    const from = group.items.length;
    const weigh = this.#options.weigh;
    for (const item of items) {
      group.items.push(item);
      group.weight += weigh === undefined ? 1 : weigh(item);
    }
    const done = new Promise<R[]>((resolve, reject) => group.waiters.push({ from, to: group.items.length, resolve, reject }));
    if (group.weight >= this.#options.maxItems) this.#flush(true);
    else if ((this.#options.spacingMs ?? 0) > 0 && !this.#waitsForSpacing(group)) this.#flush(false);
    else this.#schedule();
    return done;
  }

  get pending(): number {
    return this.#group?.items.length ?? 0;
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#options.maxInFlight) return;
    this.#scheduled = true;
    const spaced = (): number => {
      const { spacingMs = 0 } = this.#options;
      if (spacingMs === 0 || this.#group === undefined || !this.#waitsForSpacing(this.#group)) return 0;
      return this.#lastStart + spacingMs - performance.now();
    };
    const run = (): void => {
      // Node times a timer from the loop's cached clock, which lags the real one: it may fire early.
      const early = spaced();
      if (early > 0) {
        setTimeout(run, early);
        return;
      }
      this.#scheduled = false;
      this.#flush(false);
    };
    const wait = Math.max(this.#options.lingerMs, spaced());
    if (wait > 0) setTimeout(run, wait);
    else setImmediate(run);
  }

  #waitsForSpacing(group: Group<T, R>): boolean {
    return this.#options.spaced?.({ weight: group.weight, items: group.items.length }) ?? true;
  }

  #flush(full: boolean): void {
    const group = this.#group;
    if (group === undefined || (!full && this.#inFlight >= this.#options.maxInFlight)) return;
    this.#group = undefined;
    this.#inFlight++;
    const started = performance.now();
    this.#lastStart = started;
    const fail = (error: unknown): void => {
      this.#options.onFlush?.(group.weight, (performance.now() - started) / 1000, false);
      for (const waiter of group.waiters) waiter.reject(error);
    };
    // Started now, but a flush that throws synchronously fails its group like one that rejects.
    let flushing: Promise<unknown>;
    try {
      flushing = this.#options.flush(group.items);
    } catch (error) {
      flushing = Promise.reject(error);
    }
    const run = flushing
      .then((answer) => {
        const results = answer as readonly R[] | undefined;
        if (results !== undefined && results.length !== group.items.length) {
          return fail(new Error(`flush answered ${results.length} results for ${group.items.length} items`));
        }
        this.#options.onFlush?.(group.weight, (performance.now() - started) / 1000, true);
        for (const waiter of group.waiters) waiter.resolve(results === undefined ? [] : results.slice(waiter.from, waiter.to));
      })
      .catch(fail);
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
