import { type CallSettings, callWithRetries } from "./call.ts";
import { encodeHit } from "./encode.ts";
import { codeOfStatus, UsageError } from "./errors.ts";
import type { WireHit } from "./hit.ts";
import { messageOf, numberHeader, retryAfterSeconds } from "./http.ts";
import type { RecordResult } from "./types.ts";

interface Block {
  /** Until then (the quota's reset), record() answers "over quota" without asking. */
  until: number;
  limit: number;
}

/** `record()`: one `POST /api/logs` now, and the keys known to be over quota until their reset. */
export class Recorder {
  readonly #blocked = new Map<string, Block>();
  readonly #settings: CallSettings;
  readonly #url: string;

  constructor(settings: CallSettings, baseUrl: string) {
    this.#settings = settings;
    this.#url = `${baseUrl}/api/logs`;
  }

  async record(apiKey: string, hit: WireHit, deadlineMs?: number): Promise<RecordResult> {
    const now = Date.now();
    const block = this.#blocked.get(apiKey);
    if (block !== undefined) {
      if (now < block.until) return overQuota(hit.event_id, block.limit, Math.ceil((block.until - now) / 1000));
      this.#blocked.delete(apiKey);
    }
    const answer = await callWithRetries(
      this.#settings,
      { method: "POST", url: this.#url, headers: { "content-type": "application/json", "x-api-key": apiKey }, body: encodeHit(hit) },
      { deadlineMs, eventIds: [hit.event_id] },
    );
    const limit = numberHeader(answer.headers, "x-ratelimit-limit") ?? 0;
    const reset = numberHeader(answer.headers, "x-ratelimit-reset");
    if (answer.status === 202) {
      const body = JSON.parse(answer.text) as { id?: string; duplicate?: boolean };
      return {
        accepted: true,
        duplicate: body.duplicate === true,
        id: body.id ?? hit.event_id,
        limit,
        remaining: numberHeader(answer.headers, "x-ratelimit-remaining") ?? 0,
        resetSeconds: reset ?? 0,
      };
    }
    if (answer.status === 429) {
      const resetSeconds = Math.max(1, Math.ceil(retryAfterSeconds(answer.headers) ?? reset ?? 1));
      this.#block(apiKey, { until: Date.now() + resetSeconds * 1000, limit });
      return overQuota(hit.event_id, limit, resetSeconds);
    }
    throw new UsageError(codeOfStatus(answer.status), `hit rejected: ${messageOf(answer.text, answer.status)}`, {
      outcome: "rejected",
      status: answer.status,
      eventIds: [hit.event_id],
    });
  }

  #block(apiKey: string, block: Block): void {
    // Keys blocked in an hour past are forgotten, so the map holds only the current ones.
    if (this.#blocked.size >= 1000) {
      const now = Date.now();
      for (const [key, { until }] of this.#blocked) if (until <= now) this.#blocked.delete(key);
    }
    this.#blocked.set(apiKey, block);
  }
}

const overQuota = (id: string, limit: number, resetSeconds: number): RecordResult => ({
  accepted: false,
  duplicate: false,
  id,
  limit,
  remaining: 0,
  resetSeconds,
});
