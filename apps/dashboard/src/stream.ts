import type { UsageSnapshot, UsageUpdated } from "./api-types.ts";

export type StreamState = "connecting" | "live" | "reconnecting";

export interface StreamHandlers {
  onState(state: StreamState): void;
  onSnapshot(message: UsageSnapshot): void;
  onUpdate(message: UsageUpdated): void;
  /** The server refused the token (4401) or the caller's address (4403): no retry helps. */
  onRefused(code: number): void;
}

const REFUSED = new Set([4401, 4403]);
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 5_000;

/**
 * The usage stream with reconnection. Each (re)connection starts with the server's snapshot
 * of today, so what was missed while away is caught up from the truth, not replayed.
 */
export const openStream = (token: string, handlers: StreamHandlers): { close(): void } => {
  let socket: WebSocket | undefined;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const url = (): string => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // The browser's WebSocket cannot send headers: the token rides in the query (never logged).
    return `${scheme}://${location.host}/api/usage/stream?token=${encodeURIComponent(token)}`;
  };

  const connect = (): void => {
    handlers.onState(attempt === 0 ? "connecting" : "reconnecting");
    const current = new WebSocket(url());
    socket = current;
    current.addEventListener("message", (event) => {
      if (closed || typeof event.data !== "string") return;
      const message = JSON.parse(event.data) as UsageSnapshot | UsageUpdated;
      if (message.type === "usage.snapshot") {
        attempt = 0;
        handlers.onState("live");
        handlers.onSnapshot(message);
      } else if (message.type === "usage.updated") handlers.onUpdate(message);
    });
    current.addEventListener("close", (event) => {
      if (closed || socket !== current) return;
      if (REFUSED.has(event.code)) {
        handlers.onRefused(event.code);
        return;
      }
      attempt += 1;
      handlers.onState("reconnecting");
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1));
      timer = setTimeout(connect, delay * (0.75 + Math.random() * 0.5));
    });
  };

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      const current = socket;
      // Closing a socket still connecting makes the browser print a warning: let it open first.
      if (current?.readyState === WebSocket.CONNECTING) current.addEventListener("open", () => current.close(1000, "signed out"));
      else current?.close(1000, "signed out");
    },
  };
};
