import { AppError, type GatewayConfig } from "@usage/core";
import type { Principal } from "./auth-service.ts";

/**
 * The claims every access token must carry, and the checks on them that fast-jwt does not
 * make. A token signed with our secret is still refused when it could outlive what this
 * server issues: no `exp`, an `exp` centuries away, or an `iat` set in the future to
 * stretch its life. Applied to every verified token, whichever secret signed it.
 */

/** fast-jwt refuses a token missing any of these before its other checks run. */
const REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat"];

/**
 * How far ahead of our clock a token's `iat` may be. Replicas' clocks differ by a few
 * seconds under NTP; a token signed by a replica running ahead must still work on the
 * others. More than this and a forged `iat` would buy extra lifetime.
 */
export const CLOCK_SKEW_SECONDS = 30;

/** Options for @fastify/jwt's verify; a per-call `key` (previous secret) inherits them. */
export const verifyOptions = (config: GatewayConfig) => ({
  algorithms: ["HS256" as const],
  allowedIss: config.jwtIssuer,
  allowedAud: config.jwtAudience,
  requiredClaims: REQUIRED_CLAIMS,
  // fast-jwt then also checks `iat` is a number and no older than a token's whole life
  // (seconds: @fastify/jwt converts them to the milliseconds fast-jwt takes).
  maxAge: config.jwtTtlSeconds,
});

/** A verified payload: the signature is good, the shapes of its fields are not yet known. */
export interface VerifiedClaims {
  sub?: unknown;
  role?: unknown;
  iat?: unknown;
  exp?: unknown;
}

const refuse = (message: string): AppError => new AppError("UNAUTHORIZED", message);

// JSON can spell Infinity (1e400), which typeof alone lets through.
const isTime = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

/** The principal of a verified token whose claims hold up; throws 401 otherwise. */
export const principalOf = (claims: VerifiedClaims, ttlSeconds: number, nowSeconds: number): Principal => {
  const { sub, role, iat, exp } = claims;
  if (!isTime(iat) || !isTime(exp)) throw refuse("token iat and exp must be numeric dates");
  if (iat > nowSeconds + CLOCK_SKEW_SECONDS) throw refuse("token issued in the future");
  if (exp - iat > ttlSeconds) throw refuse("token lifetime is longer than this server issues");
  if ((role !== "client" && role !== "admin") || typeof sub !== "string") throw refuse("invalid token claims");
  return { role, sub };
};
