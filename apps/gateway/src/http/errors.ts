import { STATUS_CODES } from "node:http";
import { AppError, ERROR_STATUS, type ErrorCode, isAppError } from "@usage/core";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** Fastify's own codes that mean a client mistake, mapped onto the contract's codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_EMPTY_JSON_BODY: "VALIDATION_ERROR",
  FST_ERR_CTP_INVALID_JSON_BODY: "VALIDATION_ERROR",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "VALIDATION_ERROR",
  FST_ERR_CTP_INVALID_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_VALIDATION: "VALIDATION_ERROR",
  // Before routing: a path that is not valid percent-encoding, or a path parameter longer
  // than the router takes (414 in Fastify; for the contract, a malformed id is 400).
  FST_ERR_BAD_URL: "VALIDATION_ERROR",
  FST_ERR_MAX_PARAM_LENGTH: "VALIDATION_ERROR",
};

const BY_STATUS: Record<number, ErrorCode> = Object.fromEntries(
  Object.entries(ERROR_STATUS).map(([code, status]) => [status, code as ErrorCode]),
);

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "EAI_AGAIN"]);

/** A dependency (Postgres, Redis) is unreachable: the client should retry, it is not a bug. */
const isUnavailable = (error: unknown): boolean => {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === "string" && (NETWORK_CODES.has(code) || code.startsWith("08") || code.startsWith("57P"))) return true;
  return (
    typeof message === "string" &&
    /Connection terminated|timeout exceeded when trying to connect|Connection is closed|Stream isn't writeable/.test(message)
  );
};

/** Any thrown value → the contract's error; unknown failures become a bare 500. */
export const toAppError = (error: unknown): AppError => {
  if (isAppError(error)) return error;
  if (isUnavailable(error))
    return new AppError("UNAVAILABLE", "a backing store is unavailable, retry later", { cause: error, retryAfter: 1 });
  const fastifyError = error as Partial<FastifyError> & { validation?: unknown };
  if (fastifyError.validation !== undefined) return new AppError("VALIDATION_ERROR", fastifyError.message ?? "invalid request");
  const mapped = fastifyError.code === undefined ? undefined : FASTIFY_CODES[fastifyError.code];
  if (mapped !== undefined) return new AppError(mapped, fastifyError.message ?? mapped, { cause: error });
  if (error instanceof SyntaxError) return new AppError("VALIDATION_ERROR", "body is not valid JSON", { cause: error });
  const status = fastifyError.statusCode;
  const byStatus = status !== undefined && status < 500 ? BY_STATUS[status] : undefined;
  if (byStatus !== undefined) return new AppError(byStatus, fastifyError.message ?? byStatus, { cause: error });
  return new AppError("INTERNAL_ERROR", "Internal Server Error", { cause: error });
};

/** The contract's error body. */
export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
}

/** The status is given apart: a few answers outside the table (408, 431) carry the closest code. */
export const errorBody = (statusCode: number, code: ErrorCode, message: string): ErrorBody => ({
  statusCode,
  code,
  error: STATUS_CODES[statusCode] ?? "Error",
  message,
});

export const sendError = (reply: FastifyReply, error: AppError): FastifyReply => {
  if (error.retryAfter !== undefined) reply.header("retry-after", Math.max(1, Math.ceil(error.retryAfter)));
  reply.headers(error.headers);
  return reply.code(error.statusCode).send(errorBody(error.statusCode, error.code, error.message));
};

/** Fastify's `frameworkErrors`: what its router refuses before any route (a bad URL), in the contract's shape. */
export const answerFrameworkError = (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
  const appError = toAppError(error);
  if (appError.code === "INTERNAL_ERROR") request.log.error({ err: error }, "request failed before routing");
  void sendError(reply, appError);
};

/** The one error handler and the 404 handler, for the whole app. */
export const registerErrorHandling = (app: FastifyInstance): void => {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    if (appError.code === "INTERNAL_ERROR") request.log.error({ err: error }, "request failed");
    // The client hung up, or a timeout (408) closed its connection, mid-body: that stream's
    // ECONNRESET says nothing about Postgres or Redis, and nobody is left to answer.
    else if (request.raw.socket?.destroyed === true) request.log.debug({ err: error }, "request abandoned by its connection");
    else if (appError.code === "UNAVAILABLE") request.log.warn({ err: appError.cause ?? error }, "request refused: unavailable");
    return sendError(reply, appError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new AppError("NOT_FOUND", `Route ${request.method}:${request.url.split("?")[0]} not found`)),
  );
};
