import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry, Summary } from "prom-client";

export interface GatewayMetrics {
  registry: Registry;
  hits: Counter<"outcome">;
  flushes: Histogram<"result">;
  flushSize: Histogram;
  cache: Counter<"result" | "source">;
  queueJobs: Gauge<"state">;
  spooled: Counter;
  replayed: Counter;
  degraded: Counter;
  spoolBytes: Gauge;
  reads: Summary<"route">;
}

declare module "fastify" {
  interface FastifyInstance {
    metrics: GatewayMetrics;
  }
}

/** Prometheus registry of this gateway, served at GET /metrics. */
export const metricsPlugin = fp(
  async (app: FastifyInstance) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const metrics: GatewayMetrics = {
      registry,
      hits: new Counter({
        name: "usage_hits_total",
        help: "Hits answered by the ingest routes, by outcome",
        labelNames: ["outcome"],
        registers: [registry],
      }),
      flushes: new Histogram({
        name: "usage_batcher_flush_seconds",
        help: "Time to make one group of hits durable",
        labelNames: ["result"],
        buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
        registers: [registry],
      }),
      flushSize: new Histogram({
        name: "usage_batcher_flush_hits",
        help: "Hits per flushed group (one BullMQ job)",
        buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2000],
        registers: [registry],
      }),
      cache: new Counter({
        name: "usage_read_cache_total",
        help: "Usage reads by cache result and source",
        labelNames: ["result", "source"],
        registers: [registry],
      }),
      queueJobs: new Gauge({
        name: "usage_queue_jobs",
        help: "Jobs in the hit queue (its shards summed) by state, read at scrape time",
        labelNames: ["state"],
        registers: [registry],
        collect: async function (this: Gauge<"state">) {
          const counts = await app.hitQueues.counts("waiting", "active", "delayed", "failed", "prioritized").catch(() => undefined);
          if (counts === undefined) return;
          for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
        },
      }),
      spooled: new Counter({
        name: "usage_spooled_hits_total",
        help: "Hits written to the local spool (Redis unreachable)",
        registers: [registry],
      }),
      replayed: new Counter({
        name: "usage_spool_replayed_hits_total",
        help: "Spooled hits replayed into the queue",
        registers: [registry],
      }),
      degraded: new Counter({
        name: "usage_ingest_degraded_total",
        help: "Ingest requests counted in process because Redis was unreachable",
        registers: [registry],
      }),
      reads: new Summary({
        name: "usage_read_seconds",
        help: "Usage reads from the request's arrival in Fastify to the answer, by route, last 60 s",
        labelNames: ["route"],
        percentiles: [0.5, 0.99, 1],
        maxAgeSeconds: 60,
        ageBuckets: 6,
        registers: [registry],
      }),
      spoolBytes: new Gauge({
        name: "usage_spool_bytes",
        help: "Bytes waiting in the local spool",
        registers: [registry],
        collect: function (this: Gauge) {
          this.set(app.hasDecorator("ingestPipeline") ? app.ingestPipeline.spoolBytes : 0);
        },
      }),
    };
    app.decorate("metrics", metrics);
    app.get("/metrics", { schema: { tags: ["operations"], summary: "Prometheus metrics (text format)" } }, async (_request, reply) => {
      reply.header("content-type", registry.contentType);
      return registry.metrics();
    });
  },
  { name: "metrics", dependencies: ["queue"] },
);
