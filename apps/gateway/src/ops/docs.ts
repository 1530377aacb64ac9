import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { asyncApiDocument } from "../stream/asyncapi.ts";
import { ASYNCAPI_PATH, MESSAGE_SCHEMAS, toOpenApi30 } from "../stream/stream-docs.ts";
import { CLOSE } from "../stream/stream-route.ts";

/**
 * OpenAPI 3 document built from the route schemas, at /docs/json, with Swagger UI at /docs;
 * the WebSocket stream's messages as component schemas there, and the stream itself as an
 * AsyncAPI 3 document at /docs/asyncapi.json.
 */
export const docsPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: "3.0.3",
        info: {
          title: "Usage metering API",
          version: "1.0.0",
          description:
            "Record API hits, enforce per-client hourly quotas (fixed UTC hours), read daily and top usage. " +
            "Every error answers { statusCode, code, error, message }. " +
            `The live stream (GET /api/usage/stream, a WebSocket) is also described as AsyncAPI 3 at ${ASYNCAPI_PATH}.`,
        },
        components: {
          securitySchemes: {
            apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
            bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
          },
          // The stream's messages (GET /api/usage/stream has no response body to hang them on).
          schemas: Object.fromEntries(Object.entries(MESSAGE_SCHEMAS).map(([name, schema]) => [name, toOpenApi30(schema) as object])),
        },
        tags: [
          { name: "clients", description: "Registration and tokens" },
          { name: "hits", description: "Ingest" },
          { name: "usage", description: "Usage reads and the live stream" },
          { name: "exports", description: "Raw hits as CSV files, written by the worker" },
          { name: "operations", description: "Health, readiness, metrics, failed hit jobs and their replay" },
        ],
      },
    });
    await app.register(swaggerUi, { routePrefix: "/docs", staticCSP: true });
    app.get(ASYNCAPI_PATH, { schema: { hide: true } }, async (request) =>
      asyncApiDocument(CLOSE, { host: request.host, secure: request.protocol === "https" }),
    );
  },
  { name: "docs" },
);
