import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { errors, Token, TokenBody } from "@usage/contract";
import { AppError } from "@usage/core";

/** POST /api/auth/token: exchanges an API key (or the admin key) for a short-lived JWT. */
export const tokenRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    "/auth/token",
    {
      // No body at all is fine (the key may come in the header); a body must be an object.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
      schema: {
        tags: ["clients"],
        summary: "Exchange an API key (x-api-key header or body api_key) for an access token",
        body: TokenBody,
        response: { 200: Token, ...errors(400, 401, 403, 413, 415) },
      },
    },
    async (request) => {
      const header = request.headers["x-api-key"];
      const key = typeof header === "string" && header !== "" ? header : request.body?.api_key;
      if (key === undefined || key === "") throw new AppError("UNAUTHORIZED", "missing API key");
      if (app.auth.isAdminKey(key)) {
        app.auth.assertAdminIp(request);
        return {
          access_token: app.auth.issueToken({ role: "admin", sub: "admin" }),
          token_type: "Bearer" as const,
          expires_in: app.auth.ttlSeconds,
        };
      }
      const client = await app.auth.directory.byApiKey(key);
      if (client === undefined || client.revoked_at !== null) throw new AppError("UNAUTHORIZED", "unknown or revoked API key");
      return {
        access_token: app.auth.issueToken({ role: "client", sub: client.client_id }),
        token_type: "Bearer" as const,
        expires_in: app.auth.ttlSeconds,
      };
    },
  );
};
