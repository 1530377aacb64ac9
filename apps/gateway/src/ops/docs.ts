import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/** OpenAPI 3 document built from the route schemas, at /docs/json, with Swagger UI at /docs. */
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
            "Every error answers { statusCode, code, error, message }.",
        },
        components: {
          securitySchemes: {
            apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
            bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
          },
        },
        tags: [
          { name: "clients", description: "Registration and tokens" },
          { name: "hits", description: "Ingest" },
          { name: "usage", description: "Usage reads" },
          { name: "operations", description: "Health, readiness, metrics" },
        ],
      },
    });
    await app.register(swaggerUi, { routePrefix: "/docs", staticCSP: true });
  },
  { name: "docs" },
);
