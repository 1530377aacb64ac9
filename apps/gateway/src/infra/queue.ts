import type { GatewayConfig } from "@usage/core";
import {
  closeAfterStart,
  createExportQueue,
  createHitQueues,
  createKeys,
  createRedis,
  type ExportJob,
  type HitQueues,
  hitShardPlacement,
  waitReady,
} from "@usage/store";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

declare module "fastify" {
  interface FastifyInstance {
    hitQueues: HitQueues;
    exportQueue: Queue<ExportJob>;
  }
}

/**
 * The producer side of the hit queue's shards and of the export queue, on one fail-fast
 * connection of their own: while Redis is down an enqueue rejects at once instead of waiting
 * in ioredis' offline queue.
 */
export const queuePlugin = fp(
  async (app: FastifyInstance, { config }: { config: GatewayConfig }) => {
    const connection = createRedis(config, "command", { enableAutoPipelining: false });
    await waitReady(connection).catch(() => {});
    const keys = createKeys(config.redisPrefix);
    const onError = (error: Error, queue: string): void => app.log.warn({ err: error, queue }, "queue error");
    const hitQueues = createHitQueues(connection, keys, config.hitQueueShards, { onError });
    const exportQueue = createExportQueue(connection, keys, onError);
    if (connection.status === "ready") {
      const placement = await hitShardPlacement(connection, hitQueues).catch(() => undefined);
      if (placement !== undefined && !placement.spread) {
        app.log.warn({ placements: placement.placements }, "hit queue shards share primaries: reshard evenly or change HIT_QUEUE_SHARDS");
      } else if (placement !== undefined) app.log.info({ placements: placement.placements }, "hit queue shards");
    }
    app.decorate("hitQueues", hitQueues);
    app.decorate("exportQueue", exportQueue);
    app.addHook("onClose", async () => {
      // The queues share the connection (BullMQ does not close a connection it was given).
      await Promise.allSettled([hitQueues.close(), closeAfterStart(exportQueue)]);
      await connection.quit().catch(() => connection.disconnect());
    });
  },
  { name: "queue" },
);
