import type { Logger } from "@usage/core";
import { type FastifyReply, type FastifyRequest, LogController } from "fastify";

/**
 * Fastify's per-request lines (incoming, completed, not found), written at `debug` and only
 * when the logger writes `debug`: at `info` and above there is no per-request line at all
 * (at ingest rates it would cost more than the request), while a developer debugging at
 * `debug` or `trace` sees every request. The URL in these lines goes through the logger's
 * `req` serializer (packages/core/src/logger.ts), which blanks credentials in the query
 * string: the stream's `?token=` never reaches a log.
 */
export class GatewayLogController extends LogController {
  constructor(logger: Logger) {
    super({ disableRequestLogging: !logger.isLevelEnabled("debug") });
  }

  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    // An error here is the response stream's (the client went away mid-answer), not the route's: the error handler logs those.
    if (error) reply.log.debug({ ...line, err: error }, "request errored");
    else reply.log.debug(line, "request completed");
  }

  /** Fastify's own line puts the raw URL in the message, where no serializer reaches it. */
  override routeNotFound(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, "route not found");
  }
}
