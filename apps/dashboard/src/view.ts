import type { UsageSnapshot, UsageUpdated } from "./api-types.ts";

/** A signed-in page: what it shows, and how the stream and retries reach it. */
export interface View {
  readonly element: HTMLElement;
  snapshot(message: UsageSnapshot): void;
  update(message: UsageUpdated): void;
  /** Reads everything again (after a reconnect, or while the API is failing). */
  refresh(): Promise<void>;
  destroy(): void;
}

/** At most one run per `ms`; calls in between fold into one trailing run. */
export const throttle = (ms: number, run: () => void): { (): void; cancel(): void } => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = 0;
  const schedule = (): void => {
    if (timer !== undefined) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = undefined;
      last = Date.now();
      run();
    }, wait);
  };
  schedule.cancel = (): void => clearTimeout(timer);
  return schedule;
};

/** Keeps a promise's rejection from reaching the console: failures already show in the banner. */
export const quietly = (promise: Promise<unknown>): void => {
  promise.catch(() => undefined);
};
