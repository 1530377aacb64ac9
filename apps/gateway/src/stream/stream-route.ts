import type { WebSocket } from "@fastify/websocket";
import type { UsageSnapshot } from "@usage/contract";
import { AppError, isAppError, utcDay } from "@usage/core";
import { type Db, dailyTotalsForClients, dailyTotalsOfDay } from "@usage/db";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { bearerToken, type Principal } from "../auth/auth-service.ts";
import { sendError } from "../http/errors.ts";
import { streamRouteSchema } from "./stream-docs.ts";

/** Close codes: 4401/4403 mirror HTTP 401/403; 1013 asks a slow reader to come back later. */
export const CLOSE = { unauthorized: 4401, forbidden: 4403, tooSlow: 1013, goingAway: 1001 } as const;

/** A socket whose unsent backlog passes this is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
const PING_INTERVAL_MS = 30_000;

const tokenOf = (request: FastifyRequest): string | undefined => {
  const query = request.query as { token?: unknown };
  if (typeof query.token === "string" && query.token !== "") return query.token;
  return bearerToken(request.headers.authorization);
};

/**
 * The current day's committed totals this principal may see. Read on the replica when it can
 * answer, so it may trail the primary by the replica's lag; each `usage.updated` that follows
 * carries the client's total, which makes up the difference.
 */
const snapshot = async (db: Db, principal: Principal): Promise<UsageSnapshot> => {
  const date = utcDay(Date.now());
  const rows = principal.role === "admin" ? await dailyTotalsOfDay(db, date) : await dailyTotalsForClients(db, [principal.sub], date, date);
  const data = rows.map((row) => ({ client_id: row.clientId, total_requests: row.total }));
  if (principal.role === "client" && data.length === 0) data.push({ client_id: principal.sub, total_requests: 0 });
  return { type: "usage.snapshot", date, data };
};

/**
 * GET /api/usage/stream (WebSocket). Auth by `?token=` or the authorization header; a bad
 * token closes with 4401. First message: a snapshot of the current day (pub/sub is
 * at-most-once, so a (re)connecting dashboard starts from the truth), then `usage.updated`
 * for every committed change it may see.
 */
export const streamRoute = async (app: FastifyInstance): Promise<void> => {
  const { usageHub: hub, reads } = app;
  app.route({
    method: "GET",
    url: "/usage/stream",
    // The 101 upgrade, the token parameter, the messages and the close codes (stream-docs.ts).
    schema: streamRouteSchema(CLOSE),
    // A plain HTTP request (no upgrade) gets an answer in the contract's shape.
    handler: async (_request, reply) => sendError(reply, new AppError("VALIDATION_ERROR", "this route takes a WebSocket upgrade")),
    wsHandler: async (socket: WebSocket, request: FastifyRequest) => {
      let principal: Principal;
      try {
        const token = tokenOf(request);
        if (token === undefined) throw new AppError("UNAUTHORIZED", "missing token");
        principal = app.auth.verify(token);
      } catch {
        // The URL is logged with its token blanked (the logger's req serializer).
        request.log.debug({ req: request }, "stream refused: missing or bad token");
        socket.close(CLOSE.unauthorized, "unauthorized");
        return;
      }
      try {
        if (principal.role === "admin") app.auth.assertAdminIp(request);
      } catch {
        request.log.debug({ req: request }, "stream refused: admin outside the allowlist");
        socket.close(CLOSE.forbidden, "forbidden");
        return;
      }

      const send = (text: string): void => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          socket.close(CLOSE.tooSlow, "too slow");
          return;
        }
        socket.send(text);
      };
      // Subscribe before reading the snapshot, so no change falls between the two.
      const remove = hub.add({
        clientId: principal.role === "admin" ? null : principal.sub,
        send,
        close: (code, reason) => socket.close(code, reason),
      });
      let alive = true;
      const ping = setInterval(() => {
        if (!alive) socket.terminate();
        alive = false;
        socket.ping();
      }, PING_INTERVAL_MS);
      socket.on("pong", () => {
        alive = true;
      });
      socket.on("close", () => {
        clearInterval(ping);
        remove();
      });
      socket.on("error", () => socket.terminate());
      try {
        // A revoked client's token opens no stream. Checked once in the hub, so a revocation
        // landing during the check still closes this socket (the hub's closeClient).
        if (principal.role === "client") await app.auth.assertActiveClient(principal.sub);
      } catch (error) {
        // 4401 for a revoked or unknown client; Postgres unreachable with nothing cached: later.
        if (isAppError(error) && error.code === "UNAUTHORIZED") socket.close(CLOSE.unauthorized, "unauthorized");
        else socket.close(CLOSE.tooSlow, "try again later");
        return;
      }
      try {
        send(JSON.stringify(await reads.read((db) => snapshot(db, principal))));
      } catch (error) {
        request.log.warn({ err: error }, "stream snapshot failed");
      }
    },
  });
};
