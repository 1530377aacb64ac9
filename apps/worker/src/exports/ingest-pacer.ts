import { setTimeout as sleep } from "node:timers/promises";

/** Below this many hits stored a second, an export runs at full speed: nothing live to make room for. */
export const FLOWING_HITS_PER_S = 100;
/**
 * A pause never outlasts this. The first chunk of a week includes the COPY's sort (seconds of
 * a Postgres core), and resting in proportion to it is what keeps the sorts, too, at the share.
 */
const MAX_PAUSE_MS = 10_000;

/**
 * Hits this worker stored in the current and the last second. Every worker stores a share
 * of the hit jobs, so any of them sees live ingest, whichever one runs the export.
 */
export class HitFlow {
  #second = 0;
  #current = 0;
  #previous = 0;

  record(hits: number, now = Date.now()): void {
    this.#roll(now);
    this.#current += hits;
  }

  /** Hits stored in the last whole second or this one so far, whichever is more. */
  perSecond(now = Date.now()): number {
    this.#roll(now);
    return Math.max(this.#previous, this.#current);
  }

  #roll(now: number): void {
    const second = Math.floor(now / 1000);
    if (second === this.#second) return;
    this.#previous = second === this.#second + 1 ? this.#current : 0;
    this.#current = 0;
    this.#second = second;
  }
}

/** Slows an export down while hits are being stored, so live ingest keeps the machine's CPU. */
export interface ExportPacer {
  /**
   * Called after each chunk with the time it took to read; settles when the next may be
   * read, or at once when `stopped` aborts (a cancel is seen within 2 s, resting or not).
   */
  pause(workedMs: number, stopped: AbortSignal): Promise<void>;
}

/**
 * An export and the hits share Postgres (its COPY sorts and formats on one core) and, on one
 * box, the gateway's cores. While hits flow, the export rests `yieldPercent` of its time:
 * between chunks it stops reading, and the COPY's backend, its socket full, waits without
 * using CPU. At 50 % an export under live ingest takes about twice as long; without ingest it
 * runs at full speed.
 */
export const createExportPacer = (flow: HitFlow, yieldPercent: number): ExportPacer => ({
  async pause(workedMs, stopped) {
    if (yieldPercent <= 0 || stopped.aborted || flow.perSecond() < FLOWING_HITS_PER_S) return;
    await sleep(Math.min(MAX_PAUSE_MS, (workedMs * yieldPercent) / (100 - yieldPercent)), undefined, { signal: stopped }).catch(() => {});
  },
});
