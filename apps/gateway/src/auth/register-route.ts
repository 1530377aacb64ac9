import { randomUUID } from "node:crypto";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { errors, RegisterBody, Registered } from "@usage/contract";
import { AppError, apiKeyDigest, type EmailCipher, newApiKey } from "@usage/core";
import { insertClient } from "@usage/db";

export interface RegisterOptions {
  cipher: EmailCipher;
  limitPerHour: number;
}

/** POST /api/register: creates a client and shows its API key once. */
export const registerRoute: FastifyPluginAsyncTypebox<RegisterOptions> = async (app, { cipher, limitPerHour }) => {
  app.post(
    "/register",
    {
      schema: {
        tags: ["clients"],
        summary: "Register a client and receive its API key (shown once)",
        body: RegisterBody,
        response: { 201: Registered, ...errors(400, 409, 413, 415, 429) },
      },
      config: { rateLimit: { max: limitPerHour, timeWindow: "1 hour" } },
    },
    async (request, reply) => {
      const apiKey = newApiKey();
      const client = await insertClient(
        app.db,
        {
          client_id: randomUUID(),
          name: request.body.name,
          email_ciphertext: cipher.encrypt(request.body.email),
          email_digest: cipher.digest(request.body.email),
        },
        apiKeyDigest(apiKey),
      );
      if (client === undefined) throw new AppError("EMAIL_TAKEN", "this email is already registered");
      // This gateway's next reads (the new key, a listing) wait for the replica to have the client.
      await app.reads.barrier();
      return reply.code(201).send({
        client_id: client.client_id,
        name: client.name,
        email: request.body.email,
        api_key: apiKey,
        created_at: client.created_at.toISOString(),
      });
    },
  );
};
