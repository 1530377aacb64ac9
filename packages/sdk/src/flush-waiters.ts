import type { FlushResult } from "./types.ts";

export type Outcome = keyof FlushResult;

/** A flush() waiting for the hits held when it was called: those of epochs up to its own. */
interface Waiter {
  epoch: number;
  remaining: number;
  result: FlushResult;
  resolve: () => void;
}

/**
 * The flushes in progress. Each flush() opens a new epoch (hits tracked after it belong to
 * the next), so a settled hit is one a flush waits for when its epoch is not past the flush's.
 */
export class FlushWaiters {
  #waiters: Waiter[] = [];

  /**
   * Resolves once `remaining` hits of epochs up to `epoch` are settled, or at the deadline,
   * after `onDeadline` has dropped what was still held. Its timer is not unref'd: whoever
   * awaits a flush wants the process to live until it resolves.
   */
  wait(epoch: number, remaining: number, timeoutMs: number, onDeadline: () => void): Promise<FlushResult> {
    const result: FlushResult = { sent: 0, rejected: 0, dropped: 0 };
    if (remaining === 0) return Promise.resolve(result);
    return new Promise((resolve) => {
      const deadline = setTimeout(() => {
        onDeadline();
        // Whatever is still unaccounted for was settled already: it no longer holds the flush.
        this.releaseUpTo(epoch);
      }, timeoutMs);
      this.#waiters.push({
        epoch,
        remaining,
        result,
        resolve: () => {
          clearTimeout(deadline);
          resolve(result);
        },
      });
    });
  }

  /** Hits of `epoch` left the client: every flush waiting for them counts them. */
  settled(epoch: number, count: number, outcome: Outcome): void {
    if (this.#waiters.length === 0) return;
    let done = false;
    for (const waiter of this.#waiters) {
      if (epoch > waiter.epoch) continue;
      waiter.result[outcome] += count;
      waiter.remaining -= count;
      done ||= waiter.remaining <= 0;
    }
    if (!done) return;
    for (const waiter of this.#waiters) if (waiter.remaining <= 0) waiter.resolve();
    this.#waiters = this.#waiters.filter((waiter) => waiter.remaining > 0);
  }

  releaseUpTo(epoch: number): void {
    for (const waiter of this.#waiters) if (waiter.epoch <= epoch) waiter.resolve();
    this.#waiters = this.#waiters.filter((waiter) => waiter.epoch > epoch);
  }
}
