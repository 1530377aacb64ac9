import { decideBatch } from "./batch-outcome.ts";
import { DropBurst } from "./drop-burst.ts";
import { encodeBatch, LARGEST_HIT } from "./encode.ts";
import { UsageError, type UsageErrorCode } from "./errors.ts";
import { FlushWaiters, type Outcome } from "./flush-waiters.ts";
import type { WireHit } from "./hit.ts";
import { HitQueues, OPENED, READY } from "./hit-queues.ts";
import { backoffMs, exchange, sleep, unrefTimer } from "./http.ts";
import type { ResolvedOptions } from "./options.ts";
import type { FlushResult, UsageStats } from "./types.ts";

/** The client's options the batcher reads, and where it reports (onError, rate-limited by the client). */
export type BatcherSettings = Omit<ResolvedOptions, "apiKey" | "onError"> & { report: (error: UsageError) => void };

/** Hits taken from the queues into one request, until each is acknowledged, rejected or dropped. */
interface Batch {
  key: string;
  epoch: number;
  hits: WireHit[];
  /** `{"hits":[…]}` of `hits`, a view of `buffer`. */
  body: Uint8Array;
  buffer: Uint8Array;
  attempt: number;
  controller: AbortController;
  /** Settled by a deadline while its request was still out: whatever comes back is ignored. */
  done: boolean;
  /** While it waits out a backoff: ends the wait (a flush wants it sent now). */
  wake: (() => void) | undefined;
}

const MAX_IDS = 1000;
const MIN_BYTE_LIMIT = 1024;
const ids = (hits: readonly WireHit[]): string[] => hits.slice(0, MAX_IDS).map((hit) => hit.event_id);

/**
 * The ingest path: hits buffered per API key (see hit-queues.ts), sent as
 * `POST /api/logs/batch` with at most `concurrency` batches alive, each retried until
 * acknowledged, refused or given up. Holds at most `maxQueueSize` hits, buffered and in flight.
 */
export class Batcher {
  readonly counts = { sent: 0, duplicates: 0, retried: 0, rejected: 0, dropped: 0 };
  readonly #settings: BatcherSettings;
  readonly #queues: HitQueues;
  readonly #url: string;
  readonly #batches = new Set<Batch>();
  /** Body buffers of finished batches, for the next ones (at most one per concurrency slot). */
  readonly #buffers: Uint8Array[] = [];
  /** The byte limit of a body: maxBatchBytes, or less after a 413. */
  #byteLimit: number;
  #inFlight = 0;
  #epoch = 0;
  readonly #waiters = new FlushWaiters();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pumpScheduled = false;
  #closed = false;
  readonly #fullDrops: DropBurst;

  constructor(settings: BatcherSettings) {
    this.#settings = settings;
    this.#queues = new HitQueues(settings.flushAt);
    this.#byteLimit = settings.maxBatchBytes;
    this.#url = `${settings.baseUrl}/api/logs/batch`;
    this.#fullDrops = new DropBurst(settings.report, settings.maxQueueSize);
  }

  stats(): UsageStats {
    return { queued: this.#queues.size, inFlight: this.#inFlight, ...this.counts };
  }

  add(key: string, hit: WireHit): void {
    if (this.#closed) {
      this.counts.dropped++;
      this.#settings.report(
        new UsageError("SHUT_DOWN", "hit tracked after shutdown(): dropped", { outcome: "dropped", eventIds: [hit.event_id] }),
      );
      return;
    }
    if (this.#queues.size + this.#inFlight >= this.#settings.maxQueueSize) {
      this.counts.dropped++;
      this.#fullDrops.add(hit.event_id);
      return;
    }
    const flags = this.#queues.push(key, hit, this.#epoch);
    if ((flags & OPENED) !== 0 && this.#timer === undefined) {
      this.#timer = unrefTimer(
        setTimeout(() => {
          this.#timer = undefined;
          this.#queues.sealAll();
          this.#pump();
        }, this.#settings.flushIntervalMs),
      );
    }
    if ((flags & READY) !== 0) this.#schedulePump();
  }

  /**
   * Sends everything held now, batches waiting out a backoff included (not a retry-after);
   * resolves once each of those hits is settled, or at the deadline.
   */
  flush(timeoutMs: number): Promise<FlushResult> {
    const epoch = this.#epoch++;
    this.#queues.sealAll();
    this.#pump();
    for (const batch of this.#batches) batch.wake?.();
    return this.#waiters.wait(epoch, this.#queues.size + this.#inFlight, timeoutMs, () => this.#expire(epoch));
  }

  /** Flush, then refuse new hits and stop the timer. */
  async close(timeoutMs: number): Promise<FlushResult> {
    this.#closed = true;
    const result = await this.flush(timeoutMs);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return result;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#batches.size < this.#settings.concurrency) {
      const taken = this.#queues.take();
      if (taken === undefined) return;
      const { key, chunk } = taken;
      const buffer = this.#buffers.pop() ?? new Uint8Array(this.#settings.maxBatchBytes + LARGEST_HIT);
      const batch: Batch = {
        key,
        epoch: chunk.epoch,
        hits: chunk.hits,
        body: buffer,
        buffer,
        attempt: 0,
        controller: new AbortController(),
        done: false,
        wake: undefined,
      };
      this.#inFlight += batch.hits.length;
      this.#encode(batch);
      this.#batches.add(batch);
      void this.#run(batch);
    }
  }

  /** Writes the batch's body; hits past the byte limit go back to the front of their key's queue. */
  #encode(batch: Batch): void {
    const { body, count } = encodeBatch(batch.hits, batch.buffer, this.#byteLimit);
    batch.body = body;
    if (count === batch.hits.length) return;
    const rest = batch.hits.splice(count);
    this.#inFlight -= rest.length;
    this.#queues.pushFront(batch.key, { hits: rest, epoch: batch.epoch, sealed: true });
  }

  async #run(batch: Batch): Promise<void> {
    const settings = this.#settings;
    try {
      while (!batch.done && batch.hits.length > 0) {
        const answer = await exchange(
          settings.fetch,
          {
            method: "POST",
            url: this.#url,
            headers: { "content-type": "application/json", "x-api-key": batch.key },
            body: batch.body,
          },
          settings.timeoutMs,
          batch.controller.signal,
        );
        if (batch.done) return;
        const decision = decideBatch(answer, batch.hits.length);
        switch (decision.action) {
          case "sent":
            this.#settle(batch, batch.hits.length, "sent", undefined, decision.duplicates);
            return;
          case "reject":
            this.#settle(batch, batch.hits.length, "rejected", [decision.code, `batch rejected: ${decision.message}`, decision.status]);
            return;
          case "reject-one":
            this.#settleAt(batch, decision.index, [
              "VALIDATION_ERROR",
              `hit ${decision.index} of a batch rejected: ${decision.message}`,
              400,
            ]);
            this.counts.retried += batch.hits.length;
            continue;
          case "fit":
            if (decision.keep < batch.hits.length) {
              this.#settleTail(batch, decision.keep, ["RATE_LIMITED", `over quota: ${decision.message}`, 429]);
            }
            if (batch.hits.length === 0 || !this.#countAttempt(batch, decision.message)) return;
            this.counts.retried += batch.hits.length;
            continue;
          case "split":
            if (batch.hits.length === 1) {
              this.#settle(batch, 1, "rejected", ["PAYLOAD_TOO_LARGE", `hit too large: ${decision.message}`, 413]);
              return;
            }
            this.#splitBack(batch);
            this.counts.retried += batch.hits.length;
            continue;
          case "retry": {
            if (!this.#countAttempt(batch, decision.message)) return;
            settings.report(
              new UsageError(decision.code, `batch will be retried: ${decision.message}`, {
                outcome: "retrying",
                status: decision.status,
                count: batch.hits.length,
                eventIds: ids(batch.hits),
                retryAfterSeconds: decision.retryAfterSeconds,
              }),
            );
            // Full jitter; a retry-after (503) is a floor, with a little jitter above it, that
            // a flush does not cut short.
            const wait = backoffMs(batch.attempt - 1);
            if (decision.retryAfterSeconds !== undefined) {
              await sleep(decision.retryAfterSeconds * 1000 + wait / 4, batch.controller.signal);
            } else {
              // A signal of its own, aborted by either (AbortSignal.any is not in every Node 20).
              const waking = new AbortController();
              const wake = (): void => waking.abort();
              batch.wake = wake;
              batch.controller.signal.addEventListener("abort", wake, { once: true });
              await sleep(wait, waking.signal);
              batch.controller.signal.removeEventListener("abort", wake);
              batch.wake = undefined;
            }
            if (batch.done) return;
            this.counts.retried += batch.hits.length;
          }
        }
      }
    } finally {
      this.#batches.delete(batch);
      if (this.#buffers.length < this.#settings.concurrency && batch.buffer.length >= this.#settings.maxBatchBytes)
        this.#buffers.push(batch.buffer);
      this.#pump();
    }
  }

  /** One more attempt, or false once the batch is dropped for having used them all. */
  #countAttempt(batch: Batch, lastError: string): boolean {
    batch.attempt++;
    if (batch.attempt <= this.#settings.maxRetries) return true;
    this.#settle(batch, batch.hits.length, "dropped", [
      "RETRIES_EXHAUSTED",
      `batch dropped after ${this.#settings.maxRetries} retries: ${lastError}`,
    ]);
    return false;
  }

  /**
   * 413: later bodies stay under half the refused one; the second half of the hits goes back
   * to the front of its key's queue, this batch goes on with the first.
   */
  #splitBack(batch: Batch): void {
    this.#byteLimit = Math.max(MIN_BYTE_LIMIT, Math.min(this.#byteLimit, Math.floor(batch.body.length / 2)));
    const rest = batch.hits.splice(Math.ceil(batch.hits.length / 2));
    this.#inFlight -= rest.length;
    this.#queues.pushFront(batch.key, { hits: rest, epoch: batch.epoch, sealed: true });
    this.#encode(batch);
    this.#pump();
  }

  #settleAt(batch: Batch, index: number, why: [UsageErrorCode, string, number?]): void {
    const [hit] = batch.hits.splice(index, 1);
    if (batch.hits.length > 0) this.#encode(batch);
    this.#account(batch.epoch, 1, "rejected");
    this.#settings.report(new UsageError(why[0], why[1], { outcome: "rejected", status: why[2], eventIds: hit ? [hit.event_id] : [] }));
  }

  #settleTail(batch: Batch, keep: number, why: [UsageErrorCode, string, number?]): void {
    const rejected = batch.hits.splice(keep);
    if (keep > 0) this.#encode(batch);
    this.#account(batch.epoch, rejected.length, "rejected");
    this.#settings.report(
      new UsageError(why[0], why[1], { outcome: "rejected", status: why[2], count: rejected.length, eventIds: ids(rejected) }),
    );
  }

  #settle(batch: Batch, count: number, outcome: Outcome, why?: [UsageErrorCode, string, number?], duplicates = 0): void {
    batch.done = true;
    this.counts.duplicates += duplicates;
    this.#account(batch.epoch, count, outcome);
    if (why !== undefined && outcome !== "sent") {
      this.#settings.report(new UsageError(why[0], why[1], { outcome, status: why[2], count, eventIds: ids(batch.hits) }));
    }
  }

  /** Hits leave the client: counted, and every flush waiting for their epoch told. */
  #account(epoch: number, count: number, outcome: Outcome, held = true): void {
    if (held) this.#inFlight -= count;
    this.counts[outcome] += count;
    this.#waiters.settled(epoch, count, outcome);
  }

  /** A flush deadline: every hit of its epochs still held is dropped, in the queues and in flight. */
  #expire(epoch: number): void {
    const dropped: WireHit[] = [];
    let count = 0;
    for (const chunk of this.#queues.removeUpTo(epoch)) {
      count += chunk.hits.length;
      if (dropped.length < MAX_IDS) dropped.push(...chunk.hits.slice(0, MAX_IDS - dropped.length));
      this.#account(chunk.epoch, chunk.hits.length, "dropped", false);
    }
    for (const batch of this.#batches) {
      if (batch.done || batch.epoch > epoch) continue;
      batch.done = true;
      count += batch.hits.length;
      if (dropped.length < MAX_IDS) dropped.push(...batch.hits.slice(0, MAX_IDS - dropped.length));
      this.#account(batch.epoch, batch.hits.length, "dropped");
      batch.controller.abort();
    }
    if (count > 0) {
      this.#settings.report(
        new UsageError("DEADLINE", `${count} hits still unacknowledged at the flush deadline: dropped`, {
          outcome: "dropped",
          count,
          eventIds: ids(dropped),
        }),
      );
    }
  }
}
