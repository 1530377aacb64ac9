import { AppError } from "@usage/core";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { unauthorized } from "./auth-service.ts";

/**
 * Route guards for the bearer-only routes (the usage reads). They run as onRequest hooks,
 * so a stranger gets 401 and a client 403 before any input is validated. The hit routes have their own hook: ingest/hit-auth.ts.
 */

/** A valid bearer token is required; admins must call from the allowlist; a revoked client's token is refused. */
export const requireBearer = async function (this: FastifyInstance, request: FastifyRequest): Promise<void> {
  const principal = this.auth.bearer(request);
  if (principal === null) throw unauthorized("missing bearer token");
  if (principal.role === "admin") this.auth.assertAdminIp(request);
  else await this.auth.assertActiveClient(principal.sub);
  request.principal = principal;
};

/** After requireBearer: admins only. */
export const requireAdmin = async function (this: FastifyInstance, request: FastifyRequest): Promise<void> {
  if (request.principal?.role !== "admin") throw new AppError("FORBIDDEN", "admin role required");
};
