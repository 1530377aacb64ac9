import { bounded } from "@usage/core";
import type { HitQueues } from "@usage/store";

const POLL_MS = 100;

/**
 * Resolves true once no shard of `queues` holds a waiting, active or delayed job, false if it still
 * held some after `timeoutMs` (producers still adding, a batch retrying on a Postgres that
 * is down) or Redis cannot be asked. The caller's worker keeps consuming meanwhile.
 */
export const waitUntilIdle = async (queues: HitQueues, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const counts = await bounded(queues.counts("waiting", "active", "delayed"), left).catch(() => undefined);
    // Redis not answering: nothing can be consumed either, so waiting would only delay the stop.
    if (counts === undefined) return false;
    if (counts.waiting === 0 && counts.active === 0 && counts.delayed === 0) return true;
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
  }
};
