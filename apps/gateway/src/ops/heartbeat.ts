import type { Logger } from "@usage/core";
import { startHeartbeat } from "@usage/store";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/**
 * This gateway's heartbeat (packages/store/src/ops-heartbeat.ts): liveness, its spool, and
 * the hits it accepted, read once a second from the ingest routes' own counter
 * (`usage_hits_total{outcome="accepted"}`), so a hit costs nothing more than it did.
 */
export const heartbeatPlugin = fp(
  async (app: FastifyInstance, { logger }: { logger: Logger }) => {
    const acceptedHits = async (): Promise<number> =>
      (await app.metrics.hits.get()).values.find((value) => value.labels.outcome === "accepted")?.value ?? 0;
    let heartbeat: ReturnType<typeof startHeartbeat> | undefined;
    // Started once the app is ready: a build that fails half-way leaves no timer behind.
    app.addHook("onReady", async () => {
      heartbeat = startHeartbeat({
        redis: app.redis,
        keys: app.keys,
        role: "gateway",
        sample: async () => ({
          acceptedHits: await acceptedHits(),
          spoolBytes: app.ingestPipeline.spoolBytes,
          spoolSegments: app.ingestPipeline.spoolSegments,
        }),
        // Redis away: readiness and the ingest fallback already say so, once a second is noise.
        onError: (error) => logger.debug({ err: error }, "heartbeat not written"),
      });
    });
    // Registered after ingest, so this runs first on close, while Redis is still open: the
    // gateway is counted out at once and its last hits are credited.
    app.addHook("onClose", async () => heartbeat?.stop());
  },
  { name: "ops-heartbeat", dependencies: ["redis", "metrics", "ingest"] },
);
