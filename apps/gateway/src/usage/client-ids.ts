import { MAX_DAILY_CLIENT_IDS } from "@usage/contract";
import { AppError } from "@usage/core";
import type { FastifyRequest } from "fastify";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `?client_ids=a,b,…`: the ids in the order given, lower-cased (caches and rows are keyed by
 * the lower-case text), each once; undefined when the list is malformed.
 */
export const parseClientIds = (text: string): string[] | undefined => {
  const ids = text.split(",");
  if (ids.length > MAX_DAILY_CLIENT_IDS || !ids.every((id) => UUID.test(id))) return undefined;
  return [...new Set(ids.map((id) => id.toLowerCase()))];
};

const queryOf = (request: FastifyRequest): Record<string, unknown> => request.query as Record<string, unknown>;

/** onRequest, after requireBearer: naming clients is the admin's; a client reads itself without it. */
export const clientIdsForAdminOnly = async (request: FastifyRequest): Promise<void> => {
  if (request.principal?.role !== "admin" && queryOf(request).client_ids !== undefined)
    throw new AppError("FORBIDDEN", "client_ids is for the admin; a client reads its own usage without it");
};

/**
 * preValidation: the list checked before the schema, so a bad one is named in plain words
 * (the schema's pattern would quote a 100-UUID expression), and refused with the paging
 * parameters, which it replaces: the answer is one page.
 */
export const checkClientIds = async (request: FastifyRequest): Promise<void> => {
  const query = queryOf(request);
  if (query.client_ids === undefined) return;
  if (typeof query.client_ids !== "string" || parseClientIds(query.client_ids) === undefined)
    throw new AppError(
      "VALIDATION_ERROR",
      `querystring/client_ids must be 1 to ${MAX_DAILY_CLIENT_IDS} comma-separated client ids (UUIDs)`,
    );
  if (query.limit !== undefined || query.cursor !== undefined)
    throw new AppError("VALIDATION_ERROR", "querystring/client_ids cannot be combined with limit or cursor (its answer is one page)");
};
