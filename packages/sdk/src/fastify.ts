import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import {
  check,
  DEFAULT_ENFORCE_TIMEOUT_MS,
  endpointOf,
  hitOf,
  keyOf,
  type MiddlewareOptions,
  quotaHeaders,
  report,
  tooManyRequests,
  trackAnswered,
} from "./middleware-core.ts";

export type UsageFastifyOptions = MiddlewareOptions<FastifyRequest>;

interface RequestState {
  key: string;
  /** Counted before the handler (enforce), or answered 429 by us: nothing to track after. */
  settled: boolean;
  eventId?: string;
}
const STATE = Symbol("usage.state");
type WithState = FastifyRequest & { [STATE]?: RequestState };

const hitFor = (request: FastifyRequest, status: number | undefined, eventId?: string) =>
  hitOf(request.method, endpointOf(request.routeOptions.url, request.url), request.ip ?? request.socket?.remoteAddress, status, eventId);

/**
 * Records every request the server answers, after the response is sent (method, route
 * pattern, status, caller IP). With `enforce`, checks and counts each request before its
 * handler and answers 429 over quota. Register it before the routes it should see.
 */
const plugin: FastifyPluginAsync<UsageFastifyOptions> = async (app, options) => {
  const { client } = options;
  const timeoutMs = options.enforceTimeoutMs ?? DEFAULT_ENFORCE_TIMEOUT_MS;

  if (options.enforce === true) {
    app.addHook("onRequest", async (request: WithState, reply: FastifyReply) => {
      const key = keyOf(options, request);
      if (key === undefined) return;
      const state: RequestState = { key, settled: false };
      request[STATE] = state;
      const hit = hitFor(request, undefined, globalThis.crypto.randomUUID());
      const verdict = await check(client, key, hit, timeoutMs);
      if (verdict.kind === "unknown") {
        state.eventId = hit?.eventId;
        return;
      }
      state.settled = true;
      try {
        if (verdict.kind === "counted") {
          reply.headers(quotaHeaders(verdict.result));
          return;
        }
        const answer = tooManyRequests(verdict.result);
        return reply.code(429).headers(answer.headers).send(answer.body);
      } catch (error) {
        // never into the request path: let it through
        report(client, "enforce failed", error);
        return;
      }
    });
  }

  app.addHook("onResponse", (request: WithState, reply: FastifyReply, done: () => void) => {
    try {
      const state = request[STATE];
      const key = options.enforce === true ? state?.key : keyOf(options, request);
      if (key !== undefined && state?.settled !== true) trackAnswered(client, key, hitFor(request, reply.statusCode, state?.eventId));
    } catch {
      // never into the request path
    }
    done();
  });
};

/** Hooks apply to the whole server, as with fastify-plugin (no dependency on it). */
const skipOverride = plugin as FastifyPluginAsync<UsageFastifyOptions> & Record<symbol, unknown>;
skipOverride[Symbol.for("skip-override")] = true;
skipOverride[Symbol.for("fastify.display-name")] = "@usage/sdk/fastify";

export const usageFastify: FastifyPluginAsync<UsageFastifyOptions> = plugin;
export default usageFastify;
