import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  Client,
  ClientList,
  ClientListQuery,
  ClientParams,
  ClientPatch,
  ClientQuota,
  errors,
  KeyRotationBody,
  RotatedKey,
} from "@usage/contract";
import { AppError } from "@usage/core";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { requireAdmin, requireBearer } from "../auth/guards.ts";

const SECURITY: Array<Record<string, string[]>> = [{ bearer: [] }];
const TAGS = ["clients"];

/** After requireBearer: the admin, or the client whose id is in the path (any other client: 403). */
const requireSelfOrAdmin = async function (this: FastifyInstance, request: FastifyRequest): Promise<void> {
  const principal = request.principal;
  if (principal?.role === "admin") return;
  const { client_id } = request.params as { client_id?: string };
  if (principal?.role !== "client" || client_id?.toLowerCase() !== principal.sub.toLowerCase())
    throw new AppError("FORBIDDEN", "a client may only see itself and rotate its own key");
};

/**
 * /api/clients: the admin lists and changes clients; a client reads itself and rotates its
 * own key. Guards run before validation: a stranger gets 401, a client 403, never a 400.
 */
export const clientRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const clients = app.clients;
  app.addHook("onRequest", requireBearer);

  app.get(
    "/clients",
    {
      onRequest: requireAdmin,
      schema: {
        tags: TAGS,
        summary: "List clients, newest first (admin); q matches a name prefix or a whole email, case-insensitive",
        security: SECURITY,
        querystring: ClientListQuery,
        response: { 200: ClientList, ...errors(400, 401, 403, 503) },
      },
    },
    async (request) => clients.list({ limit: request.query.limit ?? 100, cursor: request.query.cursor, q: request.query.q }),
  );

  app.get(
    "/clients/:client_id",
    {
      onRequest: requireSelfOrAdmin,
      schema: {
        tags: TAGS,
        summary: "One client (admin, or the client itself)",
        security: SECURITY,
        params: ClientParams,
        response: { 200: Client, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (request) => clients.get(request.params.client_id),
  );

  app.get(
    "/clients/:client_id/quota",
    {
      onRequest: requireSelfOrAdmin,
      schema: {
        tags: TAGS,
        summary: "Where the client's hourly hit quota stands (admin, or the client itself); fixed UTC hours, reset at the top of the next",
        security: SECURITY,
        params: ClientParams,
        response: { 200: ClientQuota, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (request) => clients.quota(request.params.client_id),
  );

  app.patch(
    "/clients/:client_id",
    {
      onRequest: requireAdmin,
      schema: {
        tags: TAGS,
        summary: "Rename a client or set its hourly quota (null: the default; 0 blocks every hit); every gateway within 1 s",
        security: SECURITY,
        params: ClientParams,
        body: ClientPatch,
        response: { 200: Client, ...errors(400, 401, 403, 404, 413, 415, 503) },
      },
    },
    async (request) => clients.update(request.params.client_id, request.body),
  );

  app.post(
    "/clients/:client_id/keys",
    {
      onRequest: requireSelfOrAdmin,
      // No body at all is fine (every field is optional); a body must be an object.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
      schema: {
        tags: TAGS,
        summary: "Rotate the API key (admin, or the client itself); the previous key works until previous_key_expires_at",
        security: SECURITY,
        params: ClientParams,
        body: KeyRotationBody,
        response: { 201: RotatedKey, ...errors(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    },
    async (request, reply) => reply.code(201).send(await clients.rotateKey(request.params.client_id, request.body.grace_seconds ?? 0)),
  );

  app.post(
    "/clients/:client_id/revoke",
    {
      onRequest: requireAdmin,
      schema: {
        tags: TAGS,
        summary: "Revoke a client: its keys and tokens answer 401 and its sockets close (4401) on every gateway; idempotent",
        security: SECURITY,
        params: ClientParams,
        response: { 200: Client, ...errors(400, 401, 403, 404, 413, 415, 503) },
      },
    },
    async (request) => clients.revoke(request.params.client_id),
  );
};
