import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { ExportCreateBody, ExportCreated, ExportParams, ExportState, errors } from "@usage/contract";
import type { FastifyRequest } from "fastify";
import type { Principal } from "../auth/auth-service.ts";
import { requireBearer } from "../auth/guards.ts";

const SECURITY: Array<Record<string, string[]>> = [{ bearer: [] }];
const TAGS = ["exports"];

/** The CSV answer, for the OpenAPI document (a stream is sent as is, never serialised). */
const CSV_FILE = {
  description: "The CSV file (RFC 4180): the header row, then one row per hit of the range, oldest first",
  content: { "text/csv": { schema: { type: "string" } } },
};

/** Set by requireBearer, which runs first on every route here. */
const callerOf = (request: FastifyRequest): Principal => request.principal as Principal;

/**
 * /api/exports: a client exports its own hits, the admin one client's or everyone's. The work
 * runs in the worker; these routes queue it, report it, cancel it and stream the file.
 * The guard runs before validation: a stranger gets 401, never a 400.
 */
export const exportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.exports;
  app.addHook("onRequest", requireBearer);

  app.post(
    "/exports",
    {
      schema: {
        tags: TAGS,
        summary: "Queue an export of raw hits as CSV (at most 3 unfinished per caller); from may reach back RETENTION_DAYS",
        security: SECURITY,
        body: ExportCreateBody,
        response: { 202: ExportCreated, ...errors(400, 401, 403, 404, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => reply.code(202).send(await service.create(callerOf(request), request.body)),
  );

  app.get(
    "/exports/:export_id",
    {
      schema: {
        tags: TAGS,
        summary: "An export's state and progress (its creator, or the admin; another caller's export is 404)",
        security: SECURITY,
        params: ExportParams,
        response: { 200: ExportState, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (request) => service.state(callerOf(request), request.params.export_id),
  );

  app.post(
    "/exports/:export_id/cancel",
    {
      schema: {
        tags: TAGS,
        summary: "Cancel an unfinished export (its partial output is removed); a finished one is returned unchanged",
        security: SECURITY,
        params: ExportParams,
        response: { 200: ExportState, ...errors(400, 401, 403, 404, 413, 415, 503) },
      },
    },
    async (request) => service.cancel(callerOf(request), request.params.export_id),
  );

  app.get(
    "/exports/:export_id/download",
    {
      schema: {
        tags: TAGS,
        summary: "Download a completed export's CSV (streamed); 409 before it completed, 410 once expired (24 h)",
        security: SECURITY,
        params: ExportParams,
        response: { 200: CSV_FILE, ...errors(400, 401, 403, 404, 409, 410, 503) },
      },
    },
    async (request, reply) => {
      const file = await service.download(callerOf(request), request.params.export_id);
      return (
        reply
          .header("content-type", "text/csv; charset=utf-8")
          .header("content-disposition", `attachment; filename="${file.filename}"`)
          // Another caller's data: no shared cache may keep it.
          .header("cache-control", "private, no-store")
          .send(file.body)
      );
    },
  );
};
