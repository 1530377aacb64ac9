import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Health, Readiness } from "@usage/contract";
import { sql } from "kysely";

const PROBE_TIMEOUT_MS = 1_000;

const probe = async (check: () => Promise<unknown>): Promise<"up" | "down"> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timeout")), PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return "up";
  } catch {
    return "down";
  } finally {
    clearTimeout(timer);
  }
};

/** Liveness and readiness, outside auth. */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get("/health", { schema: { tags: ["operations"], summary: "Liveness", response: { 200: Health } } }, async () => ({
    status: "ok" as const,
  }));

  app.get(
    "/health/ready",
    { schema: { tags: ["operations"], summary: "Readiness: Postgres and Redis reachable", response: { 200: Readiness, 503: Readiness } } },
    async (_request, reply) => {
      const [postgres, redis] = await Promise.all([probe(() => sql`SELECT 1`.execute(app.db)), probe(() => app.redis.ping())]);
      const ok = postgres === "up" && redis === "up";
      return reply.code(ok ? 200 : 503).send({ status: ok ? "ok" : "degraded", checks: { postgres, redis } });
    },
  );
};
