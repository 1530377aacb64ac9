import type { GatewayConfig, Logger } from "@usage/core";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { createIngestPipeline, type IngestPipeline } from "./pipeline.ts";
import { createIngest, type Ingest } from "./record.ts";

declare module "fastify" {
  interface FastifyInstance {
    ingest: Ingest;
    ingestPipeline: IngestPipeline;
  }
}

/** The write path as `app.ingest` (count, then make durable) and `app.ingestPipeline`. */
export const ingestPlugin = fp(
  async (app: FastifyInstance, { config, logger }: { config: GatewayConfig; logger: Logger }) => {
    const pipeline = await createIngestPipeline({
      settings: config,
      queues: app.hitQueues,
      redis: app.redis,
      counters: app.counters,
      log: logger,
      events: {
        onFlush: (hits, seconds, ok) => {
          app.metrics.flushSize.observe(hits);
          app.metrics.flushes.observe({ result: ok ? "ok" : "error" }, seconds);
        },
        onSpooled: (hits) => app.metrics.spooled.inc(hits),
        onReplayed: (hits) => app.metrics.replayed.inc(hits),
      },
    });
    const ingest = createIngest({
      counters: app.counters,
      pipeline,
      defaultLimit: config.rateLimitPerHour,
      maxEventAgeDays: config.maxEventAgeDays,
      onDegraded: (error) => {
        app.metrics.degraded.inc();
        logger.warn({ err: error }, "redis unavailable: counting in process, spooling hits");
      },
    });
    app.decorate("ingest", ingest);
    app.decorate("ingestPipeline", pipeline);
    app.decorateRequest("hitClient", null);
    // Registered after redis and queue, so this runs before theirs on close: the last group
    // is flushed (or spooled) while Redis is still open.
    app.addHook("onClose", async () => pipeline.close());
  },
  { name: "ingest", dependencies: ["redis", "queue", "metrics"] },
);
