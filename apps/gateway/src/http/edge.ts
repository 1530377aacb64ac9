import type { IncomingMessage, ServerResponse } from "node:http";
import { AppError } from "@usage/core";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { answerClientError } from "./client-errors.ts";
import { answerFrameworkError, errorBody, sendError } from "./errors.ts";
import { createValidatorFactory } from "./validator-compiler.ts";

/**
 * Fastify constructor options that make every answer given before a route runs the
 * contract's: strict JSON validation, Node's connection errors, the router's refusals, and
 * (through registerEdge) the 503 while closing. A function: the validator factory is per app.
 */
export const edgeOptions = () => ({
  schemaController: { compilersFactory: { buildValidator: createValidatorFactory() } },
  clientErrorHandler: answerClientError,
  frameworkErrors: answerFrameworkError,
  // Fastify's own 503 while closing is in its shape, not the contract's; registerEdge answers instead.
  return503OnClosing: false,
});

/** Seconds a client is told to wait before retrying elsewhere: another replica is already up. */
const CLOSING_RETRY_AFTER = 1;

/**
 * The answers Node and Fastify would give in their own shape, given in the contract's:
 * - while the app closes, a request that still arrives on an open connection (pipelined,
 *   or keep-alive with a request in flight) gets 503 `UNAVAILABLE` with retry-after;
 * - an HTTP/1.1 request without Host gets 400 `VALIDATION_ERROR` (Node's has no body);
 * - an `Expect` other than 100-continue gets 417 `VALIDATION_ERROR` (Node's has no body).
 * The same hook echoes the request id, so every request pays for one onRequest hook here.
 */
export const registerEdge = (app: FastifyInstance): void => {
  let closing = false;
  // Fastify stops routing as usual when close() starts, then runs preClose at once.
  app.addHook("preClose", (done) => {
    closing = true;
    done();
  });
  // Node reads this per request; the hook below answers in its place.
  Object.assign(app.server, { requireHostHeader: false });
  app.addHook("onRequest", (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.header("x-request-id", request.id);
    if (closing) {
      void sendError(
        reply.header("connection", "close"),
        new AppError("UNAVAILABLE", "the server is shutting down; send the request again", { retryAfter: CLOSING_RETRY_AFTER }),
      );
      return;
    }
    const raw = request.raw;
    if (raw.headers.host === undefined && raw.httpVersionMajor === 1 && raw.httpVersionMinor === 1) {
      void sendError(reply.header("connection", "close"), new AppError("VALIDATION_ERROR", "an HTTP/1.1 request needs a Host header"));
      return;
    }
    done();
  });
  app.server.on("checkExpectation", (_request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify(errorBody(417, "VALIDATION_ERROR", 'the only expectation supported is "Expect: 100-continue"'));
    response
      .writeHead(417, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), connection: "close" })
      .end(body);
  });
};
