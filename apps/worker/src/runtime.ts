import { bounded, type Logger, type WorkerConfig } from "@usage/core";
import { createPgExportStore, createPool, dbOnPool, ensureIngestPartitions } from "@usage/db";
import {
  cappedBackoff,
  closeAfterStart,
  createCounters,
  createExportQueue,
  createHitQueues,
  createKeys,
  createMaintenanceQueue,
  createRedis,
  hitShardPlacement,
  QUEUES,
  queuePlace,
  startHeartbeat,
} from "@usage/store";
import { Worker } from "bullmq";
import { waitUntilIdle } from "./drain.ts";
import { startExportWorker } from "./exports/export-worker.ts";
import { createExportPacer } from "./exports/ingest-pacer.ts";
import { createHitProcessor } from "./hit-processor.ts";
import { createMaintenanceProcessor, scheduleMaintenance } from "./maintenance.ts";
import { createWorkerMetrics, serveMetrics } from "./metrics.ts";

export interface WorkerRuntime {
  /**
   * Waits, at most `timeoutMs`, until no hit queue shard has a waiting, active or delayed
   * job, while this worker goes on consuming. False if some were left.
   */
  drain(timeoutMs: number): Promise<boolean>;
  /** Idempotent: finishes the in-flight jobs, then closes every connection, even if one fails. */
  close(): Promise<void>;
}

/**
 * Starts the hit consumers (one per shard of the hit queue), the export consumer, the
 * maintenance consumer and the schedulers.
 */
export const startWorker = async (config: Readonly<WorkerConfig>, log: Logger, closeTimeoutMs = 10_000): Promise<WorkerRuntime> => {
  const keys = createKeys(config.redisPrefix);
  // Jobs share statements (at most two in flight), so the pool stays small whatever the
  // concurrency; each export adds one (its chunks and status reads; its COPY has its own).
  const pool = createPool(config.databaseUrl, { max: 4 + config.exportConcurrency, applicationName: "usage-worker" });
  const db = dbOnPool(pool);
  const exportStore = createPgExportStore(db, pool);
  const blocking = createRedis(config, "blocking");
  const commands = createRedis(config, "blocking", { enableAutoPipelining: true });
  // Change messages are at most once: a publish fails fast instead of waiting, as the
  // "blocking" role would, for a node that died (its jobs would wait with it, every shard's).
  const publisher = createRedis(config, "command");
  const metrics = createWorkerMetrics();

  // Partitions must exist before the first batch; a failure here is retried by the scheduler.
  await ensureIngestPartitions(db, config.maxEventAgeDays).catch((error: unknown) =>
    log.warn({ err: error }, "could not ensure partitions at start"),
  );

  // Only counted, never added to: the drain on stop asks them whether anything is left.
  const onQueueError = (error: Error, queue: string): void => log.warn({ err: error, queue }, "queue error");
  const hitQueues = createHitQueues(commands, keys, config.hitQueueShards, { onError: onQueueError });
  // One processor for every shard: jobs of all shards share its statements.
  const processHits = createHitProcessor({
    db,
    publisher,
    keys,
    metrics,
    log,
    spacingMs: config.statementSpacingMs,
    shardConcurrency: Math.ceil(config.workerConcurrency / hitQueues.shards.length),
  });
  const hitWorkers = hitQueues.shards.map(
    (shard) =>
      new Worker(shard.name, processHits, {
        connection: blocking,
        prefix: shard.opts.prefix,
        // WORKER_CONCURRENCY is the process's, shared out over the shards.
        concurrency: Math.ceil(config.workerConcurrency / hitQueues.shards.length),
        // A batch takes milliseconds; a short lock lets the job of a killed worker be taken over
        // within seconds. Stalls are not poison (the worker died, not the job): no cap that matters.
        lockDuration: 10_000,
        settings: { backoffStrategy: cappedBackoff },
        stalledInterval: 5_000,
        maxStalledCount: 1_000,
      }),
  );
  const maintenanceQueue = createMaintenanceQueue(commands, keys, onQueueError);
  // Read only: the expiry sweep asks it for the jobs of exports that never finish.
  const exportQueue = createExportQueue(commands, keys, onQueueError);
  const maintenanceWorker = new Worker(
    QUEUES.maintenance,
    createMaintenanceProcessor({
      db,
      exportStore,
      exportJobState: (exportId) => exportQueue.getJobState(exportId),
      counters: createCounters(commands, keys),
      config,
      metrics,
      log,
    }),
    {
      connection: blocking,
      prefix: queuePlace(keys, QUEUES.maintenance).prefix,
      concurrency: 1,
    },
  );
  const exports = startExportWorker({
    config,
    connection: blocking,
    prefix: queuePlace(keys, QUEUES.exports).prefix,
    db,
    store: exportStore,
    pacer: createExportPacer(metrics.hitFlow, config.exportYieldPercent),
    log,
  });
  for (const worker of [...hitWorkers, maintenanceWorker, exports.worker]) {
    worker.on("error", (error) => log.error({ err: error }, "worker error"));
    worker.on("failed", (job, error) => log.warn({ jobId: job?.id, name: job?.name, err: error }, "job failed"));
  }
  await scheduleMaintenance(maintenanceQueue).catch((error: unknown) => log.warn({ err: error }, "could not schedule maintenance"));
  // A second worker on the same host finds the port taken: it works on, without metrics.
  const metricsServer = await serveMetrics(metrics, config.workerMetricsPort, config.host).catch((error: unknown) => {
    log.warn({ err: error, port: config.workerMetricsPort }, "metrics port unavailable; set WORKER_METRICS_PORT per replica");
    return undefined;
  });
  log.info(
    {
      concurrency: config.workerConcurrency,
      hitQueueShards: hitQueues.shards.length,
      exportConcurrency: config.exportConcurrency,
      metricsPort: config.workerMetricsPort,
    },
    "worker started",
  );
  // Not awaited: a start never waits on it (the connection would wait for a Redis that is away).
  void hitShardPlacement(commands, hitQueues).then(
    (placement) => {
      if (placement !== undefined && !placement.spread) {
        log.warn({ placements: placement.placements }, "hit queue shards share primaries: reshard evenly or change HIT_QUEUE_SHARDS");
      }
    },
    () => {},
  );
  // Liveness for GET /api/ops/stats, once a second; skipped while Redis is away.
  const heartbeat = startHeartbeat({
    redis: commands,
    keys,
    role: "worker",
    sample: () => ({}),
    onError: (error) => log.debug({ err: error }, "heartbeat not written"),
  });

  let closing: Promise<void> | undefined;
  return {
    drain(timeoutMs) {
      // Redis away: nothing can be consumed, and the close after this has its own bounds to keep.
      return commands.status === "ready" ? waitUntilIdle(hitQueues, timeoutMs) : Promise.resolve(false);
    },
    close() {
      closing ??= (async () => {
        const closeWorkers = async (): Promise<void> => {
          // Running exports stop after their chunk in flight and wait for the next worker.
          const closing = Promise.all([...hitWorkers.map(closeAfterStart), closeAfterStart(maintenanceWorker), exports.close()]);
          try {
            await bounded(closing, closeTimeoutMs);
          } catch {
            log.warn({ closeTimeoutMs }, "workers did not close in time; dropping their connections");
            blocking.disconnect();
            commands.disconnect();
            await bounded(closing, closeTimeoutMs);
          }
        };
        const steps: Array<() => Promise<unknown>> = [
          // Graceful first (the in-flight batch commits); if Redis is gone, connections are
          // dropped, which is safe: a job whose lock lapses is redelivered and stored idempotently.
          () => closeWorkers(),
          // Counted out once it has stopped taking jobs, while its connection is still open.
          () => heartbeat.stop(),
          () => closeAfterStart(maintenanceQueue),
          () => closeAfterStart(exportQueue),
          () => hitQueues.close(),
          () => new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined))),
          () => bounded(commands.quit(), closeTimeoutMs).catch(() => commands.disconnect()),
          () => bounded(publisher.quit(), closeTimeoutMs).catch(() => publisher.disconnect()),
          () => bounded(blocking.quit(), closeTimeoutMs).catch(() => blocking.disconnect()),
          () => db.destroy(),
        ];
        for (const step of steps) {
          await step().catch((error: unknown) => log.warn({ err: error }, "close step failed"));
        }
      })();
      return closing;
    },
  };
};
