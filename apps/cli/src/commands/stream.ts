import type { Command } from "commander";
import { clientId, integer } from "../args.ts";
import { contextOf } from "../context.ts";
import { CliError, EXIT } from "../errors.ts";
import { cell, note, print } from "../output.ts";

/** What the CLI uses of a WebSocket: the same in Node's global one (22+) and the `ws` package's. */
interface Socket {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number): void;
}
type SocketClass = new (url: string) => Socket;

interface UsageUpdated {
  type: "usage.updated";
  client_id: string;
  date: string;
  delta: number;
  total_requests: number;
}

/** Node 22+ has a global WebSocket; on Node 20 the `ws` package stands in. */
const socketClass = async (): Promise<SocketClass> => {
  const global = (globalThis as { WebSocket?: SocketClass }).WebSocket;
  if (global !== undefined) return global;
  return (await import("ws")).WebSocket as unknown as SocketClass;
};

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;

/** Why the stream ended, as the CLI's failure. */
const closeError = (code: number, reason: string, opened: boolean): CliError => {
  const why = `${code}${reason ? ` ${reason}` : ""}`;
  if (code === CLOSE_UNAUTHORIZED || code === CLOSE_FORBIDDEN)
    return new CliError(EXIT.auth, `the stream refused the token (close ${why})`);
  if (!opened) return new CliError(EXIT.network, `could not open the stream (close ${why})`);
  return new CliError(EXIT.network, `the stream ended (close ${why})`);
};

export const streamCommand = (program: Command): void => {
  program
    .command("stream")
    .description("tail usage.updated live over the WebSocket /api/usage/stream (admin: every client)")
    .option("--client <client-id>", "only this client's updates", clientId)
    .option("--count <n>", "stop (exit 0) after n updates", integer(1, 1_000_000_000))
    .addHelpText(
      "after",
      "\nOne line per update: time received, client, day, +delta, the day's total. With --json, each\n" +
        "usage.updated message exactly as sent, one per line (the first usage.snapshot message is not printed).\n" +
        "Runs until Ctrl-C or --count; when the gateway closes the stream it exits 7 (3 if the token is refused).\n\n" +
        "Examples:\n  usagectl stream\n  usagectl stream --json --client $ID | jq .delta",
    )
    .action(async (options: { client?: string; count?: number }, command: Command) => {
      const { api, json } = contextOf(command);
      const url = api.url("/api/usage/stream");
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      url.searchParams.set("token", await api.token());
      const WebSocketClass = await socketClass();
      const wanted = options.client?.toLowerCase();
      let seen = 0;

      await new Promise<void>((resolve, reject) => {
        const socket = new WebSocketClass(url.href);
        let opened = false;
        let done = false;
        socket.onopen = () => {
          opened = true;
          // Without the query: the token is a credential.
          note(`listening on ${url.href.split("?")[0]} (Ctrl-C to stop)`);
        };
        socket.onmessage = (event) => {
          const text = String(event.data);
          let message: { type?: string; date?: string; data?: unknown[] };
          try {
            message = JSON.parse(text);
          } catch {
            return;
          }
          if (message.type === "usage.snapshot" && !json) note(`today (${message.date}): ${message.data?.length ?? 0} active client(s)`);
          if (message.type !== "usage.updated" || done) return;
          const update = message as UsageUpdated;
          if (wanted !== undefined && update.client_id.toLowerCase() !== wanted) return;
          if (json) print(text);
          else {
            const time = new Date().toISOString().slice(11, 19);
            print(`${time}  ${cell(update.client_id)}  ${cell(update.date)}  +${update.delta}  total ${update.total_requests}`);
          }
          seen += 1;
          if (options.count !== undefined && seen >= options.count) {
            done = true;
            socket.close(1000);
            resolve();
          }
        };
        socket.onerror = () => {};
        socket.onclose = (event) => {
          if (!done) reject(closeError(event.code, event.reason, opened));
        };
      });
    });
};
