import { UsageError } from "./errors.ts";
import type { UsageEvent } from "./types.ts";

/** What the stream needs of a WebSocket: the platform's (Node 22+, browsers) and `ws` both have it. */
interface WebSocketLike {
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number }) => void): void;
  addEventListener(type: "error", listener: () => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

// A variable, so that bundlers and tsc leave the optional peer dependency alone.
const WS_MODULE = "ws";
let loading: Promise<WebSocketConstructor> | undefined;

/** The global WebSocket where there is one, else the `ws` package when the user installed it. */
export const loadWebSocket = (): Promise<WebSocketConstructor> => {
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (native !== undefined) return Promise.resolve(native);
  loading ??= import(WS_MODULE).then(
    (module: { WebSocket?: WebSocketConstructor; default?: WebSocketConstructor }) => {
      const ctor = module.WebSocket ?? module.default;
      if (ctor === undefined) throw new Error("the ws module has no WebSocket export");
      return ctor;
    },
    (cause: unknown) => {
      loading = undefined;
      throw new UsageError("UNSUPPORTED", "stream() needs a WebSocket: this runtime has none, install the ws package", {
        outcome: "failed",
        cause,
      });
    },
  );
  return loading;
};

export type StreamItem = { kind: "message"; event: UsageEvent } | { kind: "closed"; code: number };

/** Messages a slow consumer may leave unread before the connection is dropped (and made again, snapshot first). */
const MAX_BUFFERED = 10_000;
/** Close codes of our own, for the reasons the client ends a connection. */
export const LOCAL_CLOSE = { overflow: 4990, noSnapshot: 4991, aborted: 4992 } as const;

const decode = (data: unknown): UsageEvent | undefined => {
  try {
    const text = typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer);
    const event = JSON.parse(text) as { type?: unknown };
    return event.type === "usage.snapshot" || event.type === "usage.updated" ? (event as UsageEvent) : undefined;
  } catch {
    return undefined;
  }
};

/** One connection as a queue of items: messages, then exactly one "closed". */
export const connect = (WebSocketImpl: WebSocketConstructor, url: string, signal: AbortSignal) => {
  const items: StreamItem[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const push = (item: StreamItem): void => {
    items.push(item);
    wake?.();
    wake = undefined;
  };
  let socket: WebSocketLike | undefined;
  const end = (code: number): void => {
    if (ended) return;
    ended = true;
    push({ kind: "closed", code });
    try {
      socket?.close(1000);
    } catch {
      // already closing
    }
  };
  const onAbort = (): void => end(LOCAL_CLOSE.aborted);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    socket = new WebSocketImpl(url);
    socket.addEventListener("message", ({ data }) => {
      if (ended) return;
      const event = decode(data);
      if (event === undefined) return;
      push({ kind: "message", event });
      if (items.length > MAX_BUFFERED) end(LOCAL_CLOSE.overflow);
    });
    socket.addEventListener("close", ({ code }) => end(code));
    // A close event follows every error.
    socket.addEventListener("error", () => {});
  } catch {
    end(1006);
  }
  return {
    async next(): Promise<StreamItem> {
      while (items.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return items.shift() as StreamItem;
    },
    /** Gives up on a connection that sent no snapshot in time. */
    fail: (): void => end(LOCAL_CLOSE.noSnapshot),
    close(): void {
      signal.removeEventListener("abort", onAbort);
      end(1000);
    },
  };
};
