import type { GatewayConfig } from "@usage/core";
import { createExportQueue, createHitQueue, createKeys, createRedis, type ExportJob, type HitBatchJob, waitReady } from "@usage/store";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

declare module "fastify" {
  interface FastifyInstance {
    hitQueue: Queue<HitBatchJob>;
    exportQueue: Queue<ExportJob>;
  }
}

/**
 * The producer side of the hit and export queues, on one fail-fast connection of their own:
 * while Redis is down an enqueue rejects at once instead of waiting in ioredis' offline queue.
 */
export const queuePlugin = fp(
  async (app: FastifyInstance, { config }: { config: GatewayConfig }) => {
    const connection = createRedis(config.redisUrl, "command", { enableAutoPipelining: false });
    await waitReady(connection).catch(() => {});
    const prefix = createKeys(config.redisPrefix).queuePrefix;
    const queue = createHitQueue(connection, prefix);
    queue.on("error", (error) => app.log.warn({ err: error }, "hit queue error"));
    const exportQueue = createExportQueue(connection, prefix);
    exportQueue.on("error", (error) => app.log.warn({ err: error }, "export queue error"));
    app.decorate("hitQueue", queue);
    app.decorate("exportQueue", exportQueue);
    app.addHook("onClose", async () => {
      // The queues share the connection (BullMQ does not close a connection it was given).
      await Promise.allSettled([queue.close(), exportQueue.close()]);
      await connection.quit().catch(() => connection.disconnect());
    });
  },
  { name: "queue" },
);
