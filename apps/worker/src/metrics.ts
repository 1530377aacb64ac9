import { createServer, type Server } from "node:http";
import { Counter, collectDefaultMetrics, Histogram, Registry, Summary } from "prom-client";
import { HitFlow } from "./exports/ingest-pacer.ts";

export interface WorkerMetrics {
  registry: Registry;
  hits: Counter<"outcome">;
  batchSeconds: Histogram<"result">;
  lagSeconds: Summary;
  drift: Counter<"kind">;
  duplicateFallbacks: Counter;
  /** Hits stored lately, read by the export pacer (not exported to Prometheus). */
  hitFlow: HitFlow;
}

export const createWorkerMetrics = (): WorkerMetrics => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    hitFlow: new HitFlow(),
    hits: new Counter({
      name: "usage_worker_hits_total",
      help: "Hits processed, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: "usage_worker_batch_seconds",
      help: "Time to store one statement's hits (the jobs it holds) and run what follows the commit",
      labelNames: ["result"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    // A summary, for exact quantiles of this worker over the last minute (what the lag bar is about).
    lagSeconds: new Summary({
      name: "usage_ingest_lag_seconds",
      help: "From a request's 202 at the gateway to the commit of its hits in Postgres (one sample per acceptance time), last 60 s",
      percentiles: [0.5, 0.9, 0.99, 1],
      maxAgeSeconds: 60,
      ageBuckets: 6,
      registers: [registry],
    }),
    duplicateFallbacks: new Counter({
      name: "usage_worker_duplicate_fallbacks_total",
      help: "Statements that met a hit already stored and ran again skipping duplicates",
      registers: [registry],
    }),
    drift: new Counter({
      name: "usage_reconcile_drift_total",
      help: "Counter drift found by the reconciler",
      labelNames: ["kind"],
      registers: [registry],
    }),
  };
};

/** Serves GET /metrics on its own port (0 disables it). */
export const serveMetrics = async (metrics: WorkerMetrics, port: number, host: string): Promise<Server | undefined> => {
  if (port === 0) return undefined;
  const server = createServer((request, response) => {
    if (request.url !== "/metrics") {
      response.writeHead(404).end();
      return;
    }
    void metrics.registry.metrics().then((text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(text));
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
  return server;
};
