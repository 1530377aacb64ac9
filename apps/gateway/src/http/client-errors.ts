import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { ErrorCode } from "@usage/core";
import type { ConnectionError } from "fastify";
import { errorBody } from "./errors.ts";

interface RawAnswer {
  status: number;
  code: ErrorCode;
  message: string;
}

/**
 * What Node reports on a connection before any request object exists, or instead of one:
 * its own answers carry no body or Fastify's shape. The contract has no row for 408 or 431;
 * each keeps its HTTP status (clients and proxies act on it) and carries the closest code
 * of the contract's closed set (the reasons are in docs/http-edge.md):
 * - 408, headers or body too slow (`headersTimeout`, `requestTimeout`): `UNAVAILABLE`, the
 *   code that tells a client to send the same request again; nothing of it was processed.
 * - 431, headers over Node's limit (16 KiB), and 413 for chunk extensions over its limit:
 *   `PAYLOAD_TOO_LARGE`, the request is too big and must shrink before it is sent again.
 * - anything else the parser refuses (Content-Length with Transfer-Encoding, a bad
 *   Content-Length, an unknown method, broken framing): 400 `VALIDATION_ERROR`.
 */
const ANSWERS: Record<string, RawAnswer> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: "UNAVAILABLE",
    message: "the request did not arrive in time (headers or body too slow); send it again",
  },
  HPE_HEADER_OVERFLOW: { status: 431, code: "PAYLOAD_TOO_LARGE", message: "request headers are too large" },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, code: "PAYLOAD_TOO_LARGE", message: "chunk extensions are too large" },
};

const answerFor = (error: ConnectionError & { reason?: unknown }): RawAnswer => {
  const known = ANSWERS[error.code];
  if (known !== undefined) return known;
  // llhttp's reasons are fixed texts ("Invalid method encountered"), never request bytes.
  const reason = typeof error.reason === "string" && error.reason !== "" ? `: ${error.reason}` : "";
  return { status: 400, code: "VALIDATION_ERROR", message: `malformed HTTP request${reason}` };
};

/** A whole HTTP/1.1 answer as bytes, for a socket that has no response object to write through. */
export const rawErrorResponse = ({ status, code, message }: RawAnswer): Buffer => {
  const shape = errorBody(status, code, message);
  const body = Buffer.from(JSON.stringify(shape));
  const head =
    `HTTP/1.1 ${status} ${shape.error}\r\n` +
    "content-type: application/json; charset=utf-8\r\n" +
    `content-length: ${body.length}\r\n` +
    "connection: close\r\n\r\n";
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
};

/** The response Node is writing on this socket, if any (the field Node's own handler reads). */
const inFlight = (socket: Socket): ServerResponse | null | undefined =>
  (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;

/**
 * Fastify's `clientErrorHandler`, Node's `clientError`: answers in the contract's shape, then
 * closes the connection, as Node would. Nothing is written when a response already started
 * on the socket (its bytes would corrupt that response) or when the peer is gone.
 */
export const answerClientError = (error: ConnectionError, socket: Socket): void => {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  if (!socket.writable || inFlight(socket)?.headersSent === true) {
    socket.destroy();
    return;
  }
  // end() then destroy once flushed: destroy() alone may drop the answer before it leaves.
  socket.end(rawErrorResponse(answerFor(error)), () => socket.destroy());
};
