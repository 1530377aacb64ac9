import { AppError } from "@usage/core";
import type { ClientIdentity } from "@usage/db";
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { unauthorized } from "../auth/auth-service.ts";
import type { Lookup } from "../auth/client-directory.ts";

/*
 * Who a hit is recorded for (POST /api/logs and /api/logs/batch). Which credential wins
 * when several are sent (first matching row; docs/auth.md has the same table):
 *
 *   sent                                              | used
 *   --------------------------------------------------+-----------------------------------------
 *   x-api-key (non-empty), with anything else         | x-api-key; Bearer and body api_key ignored
 *   authorization, x-api-key absent or empty          | Bearer (client token; admin token → 403)
 *   body api_key only (/api/logs; no x-api-key and    | body api_key
 *     no authorization header at all)                 |
 *   x-api-key empty, no authorization                 | nothing → 401 (body api_key not read)
 *   nothing                                           | 401
 *
 * The winner is never a fallback: a bad x-api-key is 401 even beside a valid Bearer.
 * POST /api/auth/token differs: x-api-key, else body api_key; authorization is never read.
 */

declare module "fastify" {
  interface FastifyRequest {
    /** The client a hit is recorded for, once one of the hooks below authenticated it. */
    hitClient: ClientIdentity | null;
  }
}

const admit = (request: FastifyRequest, client: ClientIdentity | undefined, unknown: string): void => {
  if (client === undefined) throw unauthorized(unknown);
  if (client.revoked_at !== null) throw unauthorized("API key revoked");
  request.hitClient = client;
};

const settle = (lookup: Lookup, request: FastifyRequest, unknown: string): Promise<void> | undefined => {
  if (!(lookup instanceof Promise)) return void admit(request, lookup, unknown);
  return lookup.then((client) => admit(request, client, unknown));
};

/** Synchronous when the identity is cached, which is nearly always on the hit routes. */
const authenticate = (app: FastifyInstance, request: FastifyRequest, bodyKey: string | undefined): Promise<void> | undefined => {
  const headerKey = request.headers["x-api-key"];
  const key = typeof headerKey === "string" && headerKey !== "" ? headerKey : undefined;
  if (key !== undefined || (bodyKey !== undefined && request.headers.authorization === undefined))
    return settle(app.auth.directory.byApiKey((key ?? bodyKey) as string), request, "unknown API key");
  const principal = app.auth.bearer(request);
  if (principal === null) throw unauthorized("missing API key or bearer token");
  if (principal.role !== "client") throw new AppError("FORBIDDEN", "hits are recorded with a client key or token");
  return settle(app.auth.directory.byId(principal.sub), request, "unknown client");
};

/** Runs `authenticate` as a callback-style hook, so the cached case makes no promise at all. */
const hook = (app: FastifyInstance, request: FastifyRequest, bodyKey: string | undefined, done: HookHandlerDoneFunction): void => {
  let pending: Promise<void> | undefined;
  try {
    pending = authenticate(app, request, bodyKey);
  } catch (error) {
    done(error as Error);
    return;
  }
  if (pending === undefined) done();
  else pending.then(() => done(), done);
};

/**
 * onRequest of the hit routes: credentials in the headers are checked before the body is
 * even read, so a stranger gets 401 (not 400, 413 or 415).
 */
export const authenticateByHeaders = function (
  this: FastifyInstance,
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  if (request.headers["x-api-key"] !== undefined || request.headers.authorization !== undefined) hook(this, request, undefined, done);
  else done();
};

/**
 * preValidation of the hit routes, for a caller not authenticated by its headers: the
 * single-hit route also takes the body's `api_key` (the original hit format). Runs before
 * the schema, so a stranger with a well-formed body gets 401, not 400.
 */
export const authenticateHitCaller = (allowBodyKey: boolean) =>
  function (this: FastifyInstance, request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (request.hitClient !== null) {
      done();
      return;
    }
    const body = request.body as { api_key?: unknown } | null | undefined;
    const bodyKey =
      allowBodyKey && typeof body === "object" && body !== null && typeof body.api_key === "string" ? body.api_key : undefined;
    hook(this, request, bodyKey, done);
  };
