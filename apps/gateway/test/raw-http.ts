import { connect } from "node:net";
import { expect } from "vitest";

/** A step of a raw exchange: bytes to write, a pause in milliseconds, or something to do meanwhile. */
export type Step = string | Buffer | number | (() => unknown);

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Opens a TCP connection, plays the steps in order, and returns every byte the server wrote
 * until it closed the connection (or `timeoutMs` passed, then the connection is dropped).
 * Bytes, not an HTTP client: these requests are the ones a client library refuses to send.
 */
export const exchange = (port: number, steps: Step[], timeoutMs = 5_000): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    // A reset after the answer still leaves the answer to check.
    socket.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" ? undefined : reject(error)));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.on("connect", async () => {
      for (const step of steps) {
        if (typeof step === "number") await new Promise((done) => setTimeout(done, step));
        else if (typeof step === "function") await step();
        else if (!socket.destroyed) socket.write(step);
      }
    });
  });

/** Splits what a server wrote into HTTP/1.1 responses (bodies framed by content-length). */
export const parseResponses = (bytes: Buffer): RawResponse[] => {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf("\r\n\r\n", at);
    if (end === -1) throw new Error(`truncated response head: ${JSON.stringify(bytes.subarray(at).toString())}`);
    const [statusLine = "", ...lines] = bytes.subarray(at, end).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers["content-length"] ?? 0);
    const body = bytes.subarray(end + 4, end + 4 + length).toString();
    responses.push({ status, headers, body });
    at = end + 4 + length;
  }
  return responses;
};

/** The one response of an exchange. */
export const onlyResponse = (bytes: Buffer): RawResponse => {
  const responses = parseResponses(bytes);
  expect(responses, bytes.toString()).toHaveLength(1);
  return responses[0] as RawResponse;
};

/** Asserts the contract's error shape on a raw response: status, code, and the four fields only. */
export const expectRawError = (response: RawResponse, status: number, code: string): Record<string, unknown> => {
  expect(response.status, response.body).toBe(status);
  expect(response.headers["content-type"]).toMatch(/^application\/json/);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  expect(body).toMatchObject({ statusCode: status, code, error: expect.any(String), message: expect.any(String) });
  expect(Object.keys(body).sort()).toEqual(["code", "error", "message", "statusCode"]);
  return body;
};
