import type { GatewayConfig } from "@usage/core";
import { createHitQueue, createKeys, createRedis, type HitBatchJob, waitReady } from "@usage/store";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

declare module "fastify" {
  interface FastifyInstance {
    hitQueue: Queue<HitBatchJob>;
  }
}

/**
 * The producer side of the hit queue, on its own fail-fast connection: while Redis is down
 * an enqueue rejects at once instead of waiting in ioredis' offline queue.
 */
export const queuePlugin = fp(
  async (app: FastifyInstance, { config }: { config: GatewayConfig }) => {
    const connection = createRedis(config.redisUrl, "command", { enableAutoPipelining: false });
    await waitReady(connection).catch(() => {});
    const queue = createHitQueue(connection, createKeys(config.redisPrefix).queuePrefix);
    queue.on("error", (error) => app.log.warn({ err: error }, "hit queue error"));
    app.decorate("hitQueue", queue);
    app.addHook("onClose", async () => {
      await queue.close().catch(() => {});
      await connection.quit().catch(() => connection.disconnect());
    });
  },
  { name: "queue" },
);
