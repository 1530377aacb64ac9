import { timingSafeEqual } from "node:crypto";
import fastifyJwt from "@fastify/jwt";
import { AppError, type GatewayConfig } from "@usage/core";
import type { ClientIdentity } from "@usage/db";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { createAllowlist, type IpCheck } from "./allowlist.ts";
import { type ClientDirectory, createClientDirectory } from "./client-directory.ts";
import { principalOf, type VerifiedClaims, verifyOptions } from "./token-claims.ts";

/**
 * The token and admin service: `app.auth` issues and verifies access tokens, recognises the
 * admin key and enforces the admin IP allowlist. Route guards (guards.ts) and the hit
 * routes' hook (ingest/hit-auth.ts) are built on it; see docs/auth.md.
 */

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
  }
}

export interface Auth {
  issueToken(principal: Principal): string;
  readonly ttlSeconds: number;
  /** Verifies a bearer token (pinned algorithm, issuer, audience; standard claims); throws 401. */
  verify(token: string): Principal;
  /** The principal of `authorization: Bearer`, or null when the header is absent. */
  bearer(request: FastifyRequest): Principal | null;
  /** 403 unless the caller's IP is on ADMIN_IP_ALLOWLIST. */
  assertAdminIp(request: FastifyRequest): void;
  isAdminKey(key: string): boolean;
  /**
   * 401 unless the client of a token exists and is not revoked (tokens are bound to the
   * client, not to a key). Synchronous when the client is cached.
   */
  assertActiveClient(clientId: string): void | Promise<void>;
  directory: ClientDirectory;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The token of an `authorization: Bearer <token>` header, or undefined for any other form. */
export const bearerToken = (header: string | undefined): string | undefined =>
  header === undefined ? undefined : BEARER.exec(header)?.[1];

export const unauthorized = (message: string, cause?: unknown): AppError => new AppError("UNAUTHORIZED", message, { cause });

export const authPlugin = fp(
  async (app: FastifyInstance, { config }: { config: GatewayConfig }) => {
    // Who a key or client id belongs to, cached in process: shared by every credential check.
    const directory = createClientDirectory(app.reads);
    await app.register(fastifyJwt, {
      secret: config.jwtSecret,
      sign: { algorithm: "HS256", iss: config.jwtIssuer, aud: config.jwtAudience, expiresIn: config.jwtTtlSeconds },
      verify: verifyOptions(config),
    });
    const allowed: IpCheck = createAllowlist(config.adminIpAllowlist);
    const adminKey = config.adminApiKey === undefined ? undefined : Buffer.from(config.adminApiKey);

    const decode = (token: string): VerifiedClaims => {
      try {
        return app.jwt.verify<VerifiedClaims>(token);
      } catch (error) {
        // During a rotation, tokens signed with the previous secret stay valid until they expire.
        if (config.jwtPreviousSecret === undefined) throw error;
        return app.jwt.verify<VerifiedClaims>(token, { key: config.jwtPreviousSecret });
      }
    };

    const auth: Auth = {
      ttlSeconds: config.jwtTtlSeconds,
      directory,
      issueToken: (principal) => app.jwt.sign({ sub: principal.sub, role: principal.role }),
      verify(token) {
        let claims: VerifiedClaims;
        try {
          claims = decode(token);
        } catch (error) {
          throw unauthorized("invalid or expired token", error);
        }
        // Same rules whichever secret signed it: token-claims.ts.
        return principalOf(claims, config.jwtTtlSeconds, Date.now() / 1000);
      },
      bearer(request) {
        const header = request.headers.authorization;
        if (header === undefined) return null;
        const token = bearerToken(header);
        if (token === undefined) throw unauthorized("authorization header must be 'Bearer <token>'");
        return auth.verify(token);
      },
      assertAdminIp(request) {
        if (!allowed(request.ip)) throw new AppError("FORBIDDEN", "admin access is not allowed from this address");
      },
      assertActiveClient(clientId) {
        const check = (client: ClientIdentity | undefined): void => {
          if (client === undefined || client.revoked_at !== null) throw unauthorized("client unknown or revoked");
        };
        const lookup = directory.byId(clientId);
        return lookup instanceof Promise ? lookup.then(check) : check(lookup);
      },
      isAdminKey(key) {
        if (adminKey === undefined) return false;
        const given = Buffer.from(key);
        return given.length === adminKey.length && timingSafeEqual(given, adminKey);
      },
    };
    app.decorate("auth", auth);
    app.decorateRequest("principal", null);
  },
  { name: "auth", dependencies: ["db"] },
);
