import { AppError } from "@usage/core";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { bearerToken, unauthorized } from "../auth/auth-service.ts";
import { sendError, toAppError } from "../http/errors.ts";

export const BOARD_PATH = "/admin/queues";
export const BOARD_COOKIE = "usage_board";

/**
 * The board's own page: scripts, styles and fonts of its bundle, its API on the same origin,
 * nothing else. The rest of the app keeps helmet's headers without a CSP (see app.ts).
 */
export const BOARD_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' https://fonts.gstatic.com",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  // The bundle sets inline styles, and its page loads its fonts' stylesheet from Google Fonts.
  "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
].join("; ");

type Source = "header" | "query" | "cookie";

const cookieValue = (header: string | undefined, name: string): string | undefined => {
  if (header === undefined) return undefined;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq !== -1 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
};

const isEntry = (url: string): boolean => {
  const path = url.split("?", 1)[0];
  return path === BOARD_PATH || path === `${BOARD_PATH}/`;
};

/**
 * The credential of a board request, first match wins: `authorization: Bearer`; on the entry
 * URL only, `?token=`; the cookie that the entry URL set. A malformed header is a 401, never a
 * fallback to the others.
 */
const boardToken = (request: FastifyRequest): { token: string; source: Source } | undefined => {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const token = bearerToken(header);
    if (token === undefined) throw unauthorized("authorization header must be 'Bearer <token>'");
    return { token, source: "header" };
  }
  if (isEntry(request.url)) {
    const query = (request.query as Record<string, unknown> | undefined)?.token;
    if (typeof query === "string" && query !== "") return { token: query, source: "query" };
  }
  const cookie = cookieValue(request.headers.cookie, BOARD_COOKIE);
  return cookie === undefined || cookie === "" ? undefined : { token: cookie, source: "cookie" };
};

/**
 * HttpOnly (no script reads it), SameSite=Strict (no other site makes the browser send it,
 * so the board's actions cannot be forged from elsewhere), only under the board's path, and
 * gone when the token expires. Secure when the gateway serves HTTPS.
 */
export const boardCookie = (token: string, expiresAt: number, secure: boolean): string => {
  const maxAge = Math.max(0, Math.floor(expiresAt - Date.now() / 1000));
  return [
    `${BOARD_COOKIE}=${token}`,
    `Path=${BOARD_PATH}`,
    `Max-Age=${maxAge}`,
    `Expires=${new Date(expiresAt * 1000).toUTCString()}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(secure ? ["Secure"] : []),
  ].join("; ");
};

/**
 * The board's onRequest hook, on every path under /admin/queues: 401 without a valid token,
 * 403 for a client token or from outside ADMIN_IP_ALLOWLIST. It answers by itself rather
 * than throwing: the board's routes have Bull Board's error handler, not the app's. An
 * admin's `?token=` on the entry URL is traded for the cookie and a redirect to the bare URL,
 * so the token leaves the address bar and the history. Nothing here logs the token.
 */
export const boardGuard = (app: FastifyInstance) =>
  async function guardBoard(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    try {
      const credential = boardToken(request);
      if (credential === undefined) throw unauthorized("an admin token is required: authorization: Bearer, or ?token= on /admin/queues");
      const principal = app.auth.verify(credential.token);
      if (principal.role !== "admin") throw new AppError("FORBIDDEN", "admin role required");
      app.auth.assertAdminIp(request);
      request.principal = principal;
      reply.header("content-security-policy", BOARD_CSP);
      if (credential.source !== "query") return undefined;
      // Verified above, so its `exp` is there and trusted.
      const { exp } = app.jwt.decode<{ exp: number }>(credential.token) as { exp: number };
      return reply
        .header("set-cookie", boardCookie(credential.token, exp, request.protocol === "https"))
        .header("cache-control", "no-store")
        .redirect(BOARD_PATH, 303);
    } catch (error) {
      return sendError(reply, toAppError(error));
    }
  };
