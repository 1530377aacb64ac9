import { UsageError } from "./errors.ts";

const MAX_IDS = 1000;

/**
 * Hits dropped at track() because the queue is full, reported once per burst: at the end of
 * the current task, with the exact count and at most 1000 of their ids. A loop that tracks
 * a million hits into a full queue calls onError once, and holds no million ids meanwhile.
 */
export class DropBurst {
  #pending: { count: number; ids: string[] } | undefined;
  readonly #report: (error: UsageError) => void;
  readonly #maxQueueSize: number;

  constructor(report: (error: UsageError) => void, maxQueueSize: number) {
    this.#report = report;
    this.#maxQueueSize = maxQueueSize;
  }

  add(eventId: string): void {
    if (this.#pending === undefined) {
      this.#pending = { count: 0, ids: [] };
      queueMicrotask(() => this.#flush());
    }
    this.#pending.count++;
    if (this.#pending.ids.length < MAX_IDS) this.#pending.ids.push(eventId);
  }

  #flush(): void {
    const drops = this.#pending;
    this.#pending = undefined;
    if (drops === undefined) return;
    this.#report(
      new UsageError("QUEUE_FULL", `queue full (maxQueueSize ${this.#maxQueueSize}): ${drops.count} hits dropped`, {
        outcome: "dropped",
        count: drops.count,
        eventIds: drops.ids,
      }),
    );
  }
}
