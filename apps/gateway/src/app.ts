import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import helmet from "@fastify/helmet";
import rateLimit from "@fastify/rate-limit";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import websocket from "@fastify/websocket";
import { AppError, createEmailCipher, type GatewayConfig, type Logger } from "@usage/core";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { authPlugin } from "./auth/auth-service.ts";
import { registerRoute } from "./auth/register-route.ts";
import { tokenRoute } from "./auth/token-route.ts";
import { clientRoutes } from "./clients/client-routes.ts";
import { clientsPlugin } from "./clients/plugin.ts";
import { DASHBOARD_PATH, dashboardPlugin } from "./dashboard/plugin.ts";
import { exportRoutes } from "./exports/export-routes.ts";
import { exportsPlugin } from "./exports/plugin.ts";
import { hitFormats } from "./http/ajv-formats.ts";
import { edgeOptions, registerEdge } from "./http/edge.ts";
import { registerErrorHandling } from "./http/errors.ts";
import { registerJsonBody } from "./http/json-body.ts";
import { GatewayLogController } from "./http/log-controller.ts";
import { RequestLogger } from "./http/request-logger.ts";
import { dbPlugin } from "./infra/db.ts";
import { queuePlugin } from "./infra/queue.ts";
import { redisPlugin } from "./infra/redis.ts";
import { logsRoutes } from "./ingest/logs-route.ts";
import { ingestPlugin } from "./ingest/plugin.ts";
import { docsPlugin } from "./ops/docs.ts";
import { healthRoutes } from "./ops/health.ts";
import { heartbeatPlugin } from "./ops/heartbeat.ts";
import { metricsPlugin } from "./ops/metrics.ts";
import { BOARD_PATH, queueBoardPlugin } from "./ops/queue-board.ts";
import { queueRoutes } from "./ops/queue-routes.ts";
import { opsRoutes } from "./ops/stats-route.ts";
import { streamPlugin } from "./stream/plugin.ts";
import { streamRoute } from "./stream/stream-route.ts";
import { usagePlugin } from "./usage/plugin.ts";
import { usageRoutes } from "./usage/usage-routes.ts";

export interface AppOptions {
  logger: Logger;
}

/** HTTPS through a server factory, so the instance keeps one type whether TLS is on or off. */
const httpsServer =
  (certFile: string, keyFile: string) =>
  (handler: (request: IncomingMessage, response: ServerResponse) => void): Server =>
    createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, handler);

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Builds the gateway; only server.ts listens. Tests drive it through `inject`. */
export const buildApp = async (config: Readonly<GatewayConfig>, { logger }: AppOptions): Promise<FastifyInstance> => {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request lines only at debug and trace: at ingest rates they would cost more than the request.
    logController: new GatewayLogController(logger),
    childLoggerFactory: (parent, bindings, options) => new RequestLogger(parent, bindings, options),
    bodyLimit: config.bodyLimitBytes,
    // A hop count becomes a function: Fastify's types take booleans, addresses or functions.
    trustProxy:
      typeof config.trustProxy === "number"
        ? (
            (hops: number) => (_address: string, hop: number) =>
              hop < hops
          )(config.trustProxy)
        : config.trustProxy,
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Unknown fields are refused (400), not silently dropped: a typo in `event_id` must not
    // turn a retry into a second hit. Query strings still coerce ("?limit=10").
    ajv: { customOptions: { removeAdditional: false }, onCreate: hitFormats },
    // JSON bodies validated without coercion; what Node and the router answer before a route, in the contract's shape.
    ...edgeOptions(),
    ...(config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
      ? { serverFactory: httpsServer(config.tlsCertFile, config.tlsKeyFile) }
      : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerJsonBody(app, config.bodyLimitBytes);
  registerErrorHandling(app);
  registerEdge(app);

  // Infrastructure.
  await app.register(dbPlugin, { config, logger });
  await app.register(redisPlugin, { config });
  await app.register(queuePlugin, { config });
  // Swagger first: it documents only the routes registered after it.
  await app.register(docsPlugin);
  await app.register(metricsPlugin);
  // A JSON API: no CSP on its answers (Swagger UI sets its own); the other headers stay.
  await app.register(helmet, { hsts: config.tlsCertFile !== undefined, contentSecurityPolicy: false });
  await app.register(rateLimit, {
    global: false,
    redis: app.redis,
    nameSpace: app.keys.rateLimitNamespace,
    // Registration stays open while Redis is down rather than locking every new customer out.
    skipOnError: true,
    errorResponseBuilder: (_request, context) =>
      new AppError("RATE_LIMITED", `rate limit of ${context.max} per ${context.after} exceeded`, {
        retryAfter: Math.ceil(context.ttl / 1000),
      }),
  });

  // App services, each a plugin that declares what it needs and closes what it opens.
  await app.register(authPlugin, { config });
  await app.register(ingestPlugin, { config, logger });
  await app.register(usagePlugin, { logger });
  await app.register(websocket, { options: { maxPayload: 4096 } });
  await app.register(streamPlugin, { config, logger });
  await app.register(clientsPlugin, { config, logger });
  await app.register(exportsPlugin, { config, logger });
  // Last of the services: on close it runs first, counting this gateway out while Redis is open.
  await app.register(heartbeatPlugin, { logger });

  // Routes.
  await app.register(healthRoutes);
  await app.register(
    async (api) => {
      await api.register(registerRoute, { cipher: createEmailCipher(config.encryptionKey), limitPerHour: config.registerLimitPerHour });
      await api.register(tokenRoute);
      await api.register(logsRoutes, { defaultLimit: config.rateLimitPerHour });
      await api.register(usageRoutes);
      await api.register(streamRoute);
      await api.register(queueRoutes);
      await api.register(clientRoutes);
      await api.register(exportRoutes);
      await api.register(opsRoutes);
    },
    { prefix: "/api" },
  );
  await app.register(queueBoardPlugin, { prefix: BOARD_PATH, config, logger });
  // The web page, public static files: it signs in through the API like any other client.
  await app.register(dashboardPlugin, { prefix: DASHBOARD_PATH, dir: config.dashboardDir, logger });
  return app;
};
