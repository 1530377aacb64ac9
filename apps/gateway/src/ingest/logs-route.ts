import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { BatchAccepted, BatchBody, errors, HitAccepted, SingleHitBody } from "@usage/contract";
import { authenticateByHeaders, authenticateHitCaller } from "./hit-auth.ts";
import { quotaHeaders } from "./record.ts";

const SECURITY: Array<Record<string, string[]>> = [{ apiKey: [] }, { bearer: [] }];
const ERRORS = errors(400, 401, 403, 413, 415, 429, 503);

/** POST /api/logs and /api/logs/batch: record hits; a 202 means durable. */
export const logsRoutes: FastifyPluginAsyncTypebox<{ defaultLimit: number }> = async (app, { defaultLimit }) => {
  const { ingest } = app;
  // Every answer of these routes tells the caller where its quota stands.
  // Callback style: the 202 path (headers already set) then costs no promise.
  app.addHook("onSend", (request, reply, payload, done) => {
    if (reply.hasHeader("x-ratelimit-limit")) {
      done(null, payload);
      return;
    }
    if (request.hitClient === null) {
      reply.headers(quotaHeaders({ limit: defaultLimit, remaining: defaultLimit, reset: 0 }));
      done(null, payload);
      return;
    }
    ingest
      .quota(request.hitClient)
      .then((quota) => void reply.headers(quotaHeaders(quota)))
      .then(
        () => done(null, payload),
        (error: Error) => done(error),
      );
  });

  app.post(
    "/logs",
    {
      onRequest: authenticateByHeaders,
      helmet: false,
      preValidation: authenticateHitCaller(true),
      schema: {
        tags: ["hits"],
        summary: "Record one API hit",
        security: SECURITY,
        body: SingleHitBody,
        response: { 202: HitAccepted, ...ERRORS },
      },
    },
    async (request, reply) => {
      const { api_key: _key, ...hit } = request.body;
      const result = await ingest.record(request.hitClient!, [hit], () => "body");
      app.metrics.hits.inc({ outcome: result.duplicates[0] ? "duplicate" : "accepted" });
      return reply
        .code(202)
        .headers(quotaHeaders(result.quota))
        .send({ id: result.ids[0] as string, duplicate: result.duplicates[0] === true });
    },
  );

  app.post(
    "/logs/batch",
    {
      onRequest: authenticateByHeaders,
      helmet: false,
      preValidation: authenticateHitCaller(false),
      schema: {
        tags: ["hits"],
        summary: "Record 1..1000 hits, all or nothing",
        security: SECURITY,
        body: BatchBody,
        response: { 202: BatchAccepted, ...ERRORS },
      },
    },
    async (request, reply) => {
      const result = await ingest.record(request.hitClient!, request.body.hits, (index) => `body/hits/${index}`);
      const duplicates = result.duplicates.filter(Boolean).length;
      app.metrics.hits.inc({ outcome: "accepted" }, result.ids.length - duplicates);
      app.metrics.hits.inc({ outcome: "duplicate" }, duplicates);
      return reply
        .code(202)
        .headers(quotaHeaders(result.quota))
        .send({ accepted: result.ids.length - duplicates, duplicates, ids: result.ids });
    },
  );
};
