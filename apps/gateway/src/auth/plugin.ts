import { timingSafeEqual } from "node:crypto";
import fastifyJwt from "@fastify/jwt";
import { AppError, type GatewayConfig } from "@usage/core";
import type { ClientIdentity } from "@usage/db";
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import fp from "fastify-plugin";
import { createAllowlist, type IpCheck } from "./allowlist.ts";
import type { ClientDirectory, Lookup } from "./client-directory.ts";

export type Role = "client" | "admin";
export interface Principal {
  role: Role;
  /** The client id, or "admin". */
  sub: string;
}

interface TokenClaims {
  sub: string;
  role: Role;
}

declare module "@fastify/jwt" {
  interface FastifyJWT {
    payload: TokenClaims;
    user: TokenClaims;
  }
}

declare module "fastify" {
  interface FastifyInstance {
    auth: Auth;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** The client a hit is recorded for, once authenticated. */
    hitClient: ClientIdentity | null;
  }
}

export interface Auth {
  issueToken(principal: Principal): string;
  readonly ttlSeconds: number;
  /** Verifies a bearer token (pinned algorithm, issuer and audience); throws 401. */
  verify(token: string): Principal;
  /** The principal of `authorization: Bearer`, or null when the header is absent. */
  bearer(request: FastifyRequest): Principal | null;
  /** 403 unless the caller's IP is on ADMIN_IP_ALLOWLIST. */
  assertAdminIp(request: FastifyRequest): void;
  isAdminKey(key: string): boolean;
  directory: ClientDirectory;
}

const unauthorized = (message: string, cause?: unknown): AppError => new AppError("UNAUTHORIZED", message, { cause });

export const authPlugin = fp(
  async (app: FastifyInstance, { config, directory }: { config: GatewayConfig; directory: ClientDirectory }) => {
    await app.register(fastifyJwt, {
      secret: config.jwtSecret,
      sign: { algorithm: "HS256", iss: config.jwtIssuer, aud: config.jwtAudience, expiresIn: config.jwtTtlSeconds },
      verify: { algorithms: ["HS256"], allowedIss: config.jwtIssuer, allowedAud: config.jwtAudience },
    });
    const allowed: IpCheck = createAllowlist(config.adminIpAllowlist);
    const adminKey = config.adminApiKey === undefined ? undefined : Buffer.from(config.adminApiKey);

    const decode = (token: string): TokenClaims => {
      try {
        return app.jwt.verify<TokenClaims>(token);
      } catch (error) {
        // During a rotation, tokens signed with the previous secret stay valid until they expire.
        if (config.jwtPreviousSecret === undefined) throw error;
        return app.jwt.verify<TokenClaims>(token, { key: config.jwtPreviousSecret });
      }
    };

    const auth: Auth = {
      ttlSeconds: config.jwtTtlSeconds,
      directory,
      issueToken: (principal) => app.jwt.sign({ sub: principal.sub, role: principal.role }),
      verify(token) {
        let claims: TokenClaims;
        try {
          claims = decode(token);
        } catch (error) {
          throw unauthorized("invalid or expired token", error);
        }
        if ((claims.role !== "client" && claims.role !== "admin") || typeof claims.sub !== "string")
          throw unauthorized("invalid token claims");
        return { role: claims.role, sub: claims.sub };
      },
      bearer(request) {
        const header = request.headers.authorization;
        if (header === undefined) return null;
        const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
        if (match === null) throw unauthorized("authorization header must be 'Bearer <token>'");
        return auth.verify(match[1] as string);
      },
      assertAdminIp(request) {
        if (!allowed(request.ip)) throw new AppError("FORBIDDEN", "admin access is not allowed from this address");
      },
      isAdminKey(key) {
        if (adminKey === undefined) return false;
        const given = Buffer.from(key);
        return given.length === adminKey.length && timingSafeEqual(given, adminKey);
      },
    };
    app.decorate("auth", auth);
    app.decorateRequest("principal", null);
    app.decorateRequest("hitClient", null);
  },
  { name: "auth" },
);

/** preHandler: a valid bearer token is required; admins must call from the allowlist. */
export const requireBearer = async function (this: FastifyInstance, request: FastifyRequest): Promise<void> {
  const principal = this.auth.bearer(request);
  if (principal === null) throw unauthorized("missing bearer token");
  if (principal.role === "admin") this.auth.assertAdminIp(request);
  request.principal = principal;
};

/** preHandler after requireBearer: admins only. */
export const requireAdmin = async function (this: FastifyInstance, request: FastifyRequest): Promise<void> {
  if (request.principal?.role !== "admin") throw new AppError("FORBIDDEN", "admin role required");
};

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
