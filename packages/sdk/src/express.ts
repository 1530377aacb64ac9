import type { NextFunction, Request, RequestHandler, Response } from "express";
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

export type UsageExpressOptions = MiddlewareOptions<Request>;

/** A route's path as written (`/orders/:id`); RegExp routes have none. */
const pathOf = (route: unknown): string | undefined => {
  const path = (route as { path?: unknown } | undefined)?.path;
  return typeof path === "string" ? path : undefined;
};

const join = (baseUrl: string | undefined, path: string): string =>
  baseUrl === undefined || baseUrl === "" ? path : path === "/" ? baseUrl : `${baseUrl}${path}`;

/**
 * Watches the request for the route Express matches: the router sets `req.route` just
 * before the route's handlers run, while `req.baseUrl` still holds the routers' mount
 * paths (they are put back on the way out, an error's way included).
 */
const watchRoute = (request: Request): (() => string | undefined) => {
  let pattern: string | undefined;
  let route: unknown = request.route;
  try {
    Object.defineProperty(request, "route", {
      configurable: true,
      enumerable: true,
      get: () => route,
      set: (value: unknown) => {
        route = value;
        const path = pathOf(value);
        pattern = path === undefined ? undefined : join(request.baseUrl, path);
      },
    });
  } catch {
    // a frozen request: read what is there at the end
  }
  return () => pattern ?? (pathOf(route) === undefined ? undefined : join(request.baseUrl, pathOf(route) as string));
};

/**
 * Records every request the server answers, once the response is sent (method, route
 * pattern, status, caller IP). With `enforce`, checks and counts each request before the
 * next handler and answers 429 over quota. Mounted with `app.use()` it sees every route.
 */
export const usageExpress = (options: UsageExpressOptions): RequestHandler => {
  const { client } = options;
  const timeoutMs = options.enforceTimeoutMs ?? DEFAULT_ENFORCE_TIMEOUT_MS;
  return (request: Request, response: Response, next: NextFunction): void => {
    const key = keyOf(options, request);
    if (key === undefined) {
      next();
      return;
    }
    let settled = false;
    let eventId: string | undefined;
    const pattern = watchRoute(request);
    response.once("finish", () => {
      if (settled) return;
      const endpoint = endpointOf(pattern(), request.originalUrl);
      trackAnswered(
        client,
        key,
        hitOf(request.method, endpoint, request.ip ?? request.socket?.remoteAddress, response.statusCode, eventId),
      );
    });
    if (options.enforce !== true) {
      next();
      return;
    }
    // Before routing, only a route-level middleware knows its pattern: elsewhere the path is used.
    const hit = hitOf(request.method, endpointOf(pattern(), request.originalUrl), request.ip, undefined, globalThis.crypto.randomUUID());
    // check() never rejects; whatever else fails here lets the request through.
    void check(client, key, hit, timeoutMs)
      .then((verdict) => {
        let proceed = true;
        try {
          if (verdict.kind === "unknown") eventId = hit?.eventId;
          else if (verdict.kind === "counted") {
            settled = true;
            response.set(quotaHeaders(verdict.result));
          } else {
            settled = true;
            const answer = tooManyRequests(verdict.result);
            response.status(429).set(answer.headers).json(answer.body);
            proceed = false;
          }
        } catch (error) {
          report(client, "enforce failed", error);
        }
        if (proceed) next();
      })
      .catch((error: unknown) => report(client, "a handler after the middleware failed", error));
  };
};

export default usageExpress;
