import { UsageError } from "./errors.ts";
import { backoffMs, sleep } from "./http.ts";
import type { TokenCache } from "./tokens.ts";
import type { UsageEvent, UsageSnapshot, UsageUpdated } from "./types.ts";
import { connect, loadWebSocket } from "./websocket.ts";

export interface StreamDeps {
  /** `ws://…/api/usage/stream` */
  url: string;
  tokens: TokenCache;
  apiKey: string;
  /** Aborted by the consumer's signal or the client's shutdown. */
  signal: AbortSignal;
}

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;
/** A connection that sends no snapshot in this time is dropped and made again. */
const SNAPSHOT_TIMEOUT_MS = 10_000;
const RECONNECT_CAP_MS = 10_000;
/** Updates that may arrive before the snapshot (the server subscribes, then reads it). */
const MAX_EARLY = 1000;
const TRANSIENT = new Set<string>(["NETWORK_ERROR", "TIMEOUT", "UNAVAILABLE"]);

/** The snapshot already counts an update that arrived before it when its total is as high. */
const coveredBy = (snapshot: UsageSnapshot, update: UsageUpdated): boolean =>
  update.date === snapshot.date &&
  (snapshot.data.find((row) => row.client_id === update.client_id)?.total_requests ?? -1) >= update.total_requests;

/**
 * `GET /api/usage/stream` as an async iterator: each (re)connection first yields its
 * `usage.snapshot`, then the `usage.updated` events; a lost connection is made again with
 * backoff and jitter, a refused token is renewed once. Ends when `signal` aborts.
 */
export async function* streamEvents(deps: StreamDeps): AsyncGenerator<UsageEvent, void, undefined> {
  const WebSocketImpl = await loadWebSocket();
  let attempt = 0;
  let refusals = 0;
  while (!deps.signal.aborted) {
    let token: string | undefined;
    try {
      token = await untilAborted(deps.tokens.get(deps.apiKey), deps.signal);
      if (token === undefined) return;
    } catch (error) {
      // The service is unreachable: keep trying, as for a lost connection. A refused key ends the stream.
      if (!(error instanceof UsageError) || !TRANSIENT.has(error.code)) throw error;
      await sleep(Math.min(RECONNECT_CAP_MS, 50 + backoffMs(attempt++)), deps.signal, true);
      continue;
    }
    const connection = connect(WebSocketImpl, `${deps.url}?token=${encodeURIComponent(token)}`, deps.signal);
    const snapshotTimer = setTimeout(() => connection.fail(), SNAPSHOT_TIMEOUT_MS);
    let snapshot: UsageSnapshot | undefined;
    const early: UsageUpdated[] = [];
    let code = 0;
    try {
      for (;;) {
        const item = await connection.next();
        if (item.kind === "closed") {
          code = item.code;
          break;
        }
        const event = item.event;
        if (event.type === "usage.snapshot") {
          clearTimeout(snapshotTimer);
          snapshot = event;
          attempt = 0;
          refusals = 0;
          yield event;
          for (const update of early.splice(0)) if (!coveredBy(event, update)) yield update;
        } else if (snapshot !== undefined) {
          yield event;
        } else if (early.length < MAX_EARLY) {
          early.push(event);
        }
      }
    } finally {
      clearTimeout(snapshotTimer);
      connection.close();
    }
    if (deps.signal.aborted) return;
    if (code === CLOSE_FORBIDDEN) throw new UsageError("FORBIDDEN", "stream refused (4403)", { outcome: "failed", status: 403 });
    if (code === CLOSE_UNAUTHORIZED) {
      deps.tokens.invalidate(deps.apiKey, token);
      if (++refusals >= 2) throw new UsageError("UNAUTHORIZED", "stream refused the token (4401)", { outcome: "failed", status: 401 });
      continue;
    }
    await sleep(Math.min(RECONNECT_CAP_MS, 50 + backoffMs(attempt++)), deps.signal, true);
  }
}

/** The promise's value, or undefined as soon as `signal` aborts (the promise goes on alone). */
const untilAborted = <T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> => {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
};

/** One signal for the consumer's and the client's reasons to stop; `release` detaches it. */
export const linkSignals = (...signals: Array<AbortSignal | undefined>): { signal: AbortSignal; release: () => void } => {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  for (const signal of signals) {
    if (signal?.aborted) controller.abort();
    signal?.addEventListener("abort", abort, { once: true });
  }
  return {
    signal: controller.signal,
    release: () => {
      for (const signal of signals) signal?.removeEventListener("abort", abort);
    },
  };
};
