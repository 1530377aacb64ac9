import { type GatewayConfig, GroupCommit, type Logger } from "@usage/core";
import type { HitBatchJob } from "@usage/store";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { LocalCounters } from "./local-counters.ts";
import { createIngest, type Ingest, type PendingHits } from "./record.ts";
import { createReplayer } from "./replayer.ts";
import { Spool } from "./spool.ts";

declare module "fastify" {
  interface FastifyInstance {
    ingest: Ingest;
    spool: Spool;
  }
}

/**
 * The write path: group commit into one BullMQ job per flush, and the local spool that
 * takes over when Redis cannot: a group whose enqueue fails is spooled (already counted),
 * and while Redis is unreachable hits are counted in process and spooled (to be counted on
 * replay). Either way the 202 waits for durability.
 */
export const ingestPlugin = fp(
  async (app: FastifyInstance, { config, logger }: { config: GatewayConfig; logger: Logger }) => {
    const spool = new Spool(config.spoolDir, config.spoolMaxBytes, (hits) => app.metrics.spooled.inc(hits));
    await spool.init();
    const batcher = new GroupCommit<PendingHits>({
      maxItems: config.batchMaxHits,
      weigh: (pending) => pending.hits.length,
      lingerMs: config.batchLingerMs,
      maxInFlight: config.batchMaxInFlight,
      flush: async (group) => {
        const hits = group.length === 1 ? (group[0] as PendingHits).hits : group.flatMap((pending) => pending.hits);
        const job: HitBatchJob = group.some((pending) => pending.mayExist) ? { v: 1, hits, mayExist: true } : { v: 1, hits };
        try {
          await app.hitQueue.add("hit-batch", job);
        } catch (error) {
          logger.warn({ err: error, hits: hits.length }, "enqueue failed, spooling the group");
          await spool.append({ counted: true, hits });
        }
      },
      onFlush: (size, seconds, ok) => {
        app.metrics.flushSize.observe(size);
        app.metrics.flushes.observe({ result: ok ? "ok" : "error" }, seconds);
      },
    });
    const local = new LocalCounters();
    const replayer = createReplayer({
      spool,
      redis: app.redis,
      counters: app.counters,
      queue: app.hitQueue,
      log: logger,
      onReplayed: (n) => app.metrics.replayed.inc(n),
    });
    replayer.start();
    const prune = setInterval(() => local.prune(Date.now()), 60_000).unref();

    app.decorate("spool", spool);
    app.decorate(
      "ingest",
      createIngest({
        counters: app.counters,
        local,
        batcher,
        spool,
        defaultLimit: config.rateLimitPerHour,
        maxEventAgeDays: config.maxEventAgeDays,
        onDegraded: (error) => {
          app.metrics.degraded.inc();
          logger.warn({ err: error }, "redis unavailable: counting in process, spooling hits");
        },
      }),
    );
    // Registered after the queue, so this runs first on close: the last group is flushed (or
    // spooled) while Redis is still open, and the spool segment is sealed for the next start.
    app.addHook("onClose", async () => {
      clearInterval(prune);
      replayer.stop();
      await batcher.close();
      await spool.close();
    });
  },
  { name: "ingest", dependencies: ["redis", "queue", "metrics"] },
);
