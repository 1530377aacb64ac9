import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { DailyQuery, DailyUsage, errors, TopQuery, TopUsage } from "@usage/contract";
import { requireAdmin, requireBearer } from "../auth/guards.ts";
import { checkClientIds, clientIdsForAdminOnly, parseClientIds } from "./client-ids.ts";

const SECURITY: Array<Record<string, string[]>> = [{ bearer: [] }];

/** GET /api/usage/daily and /api/usage/top, cached with x-cache: HIT|MISS. */
export const usageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const reads = app.usageReads;
  // Before the query is validated: a stranger gets 401 and a client 403, never a 400.
  app.addHook("onRequest", requireBearer);
  // Time inside the gateway, beside what a dashboard sees: a gap between the two is spent
  // outside the handler (network, scheduling), as docs/benchmarks.md shows.
  app.addHook("onResponse", (request, reply, done) => {
    if (reply.statusCode === 200) app.metrics.reads.observe({ route: request.routeOptions.url ?? "" }, reply.elapsedTime / 1000);
    done();
  });

  app.get(
    "/usage/daily",
    {
      onRequest: clientIdsForAdminOnly,
      preValidation: checkClientIds,
      schema: {
        tags: ["usage"],
        summary:
          "Hits per UTC day over the last 7 days (a client: itself; the admin: every active client, paged, or the clients named in client_ids)",
        security: SECURITY,
        querystring: DailyQuery,
        response: { 200: DailyUsage, ...errors(400, 401, 403, 503) },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const { client_ids: clientIds } = request.query;
      const read =
        principal.role !== "admin"
          ? await reads.clientDaily(principal.sub)
          : clientIds !== undefined
            ? await reads.selectedDaily(parseClientIds(clientIds) ?? [])
            : await reads.adminDaily(request.query.limit ?? 100, request.query.cursor);
      return reply.header("x-cache", read.cache).send(read.body);
    },
  );

  app.get(
    "/usage/top",
    {
      onRequest: requireAdmin,
      schema: {
        tags: ["usage"],
        summary: "Top clients by hits in the last 24 hours (hour-granular at the window's old edge)",
        security: SECURITY,
        querystring: TopQuery,
        response: { 200: TopUsage, ...errors(400, 401, 403, 503) },
      },
    },
    async (request, reply) => {
      const read = await reads.top(request.query.limit ?? 3);
      return reply.header("x-cache", read.cache).send(read.body);
    },
  );
};
