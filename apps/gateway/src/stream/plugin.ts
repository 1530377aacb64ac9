import type { GatewayConfig, Logger } from "@usage/core";
import { createRedis } from "@usage/store";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { UsageHub } from "./usage-hub.ts";

declare module "fastify" {
  interface FastifyInstance {
    usageHub: UsageHub;
  }
}

/**
 * The relay of committed usage changes: one pub/sub subscription per gateway (a connection
 * of its own, since a subscribed connection can run nothing else) feeding its sockets.
 */
export const streamPlugin = fp(
  async (app: FastifyInstance, { config, logger }: { config: GatewayConfig; logger: Logger }) => {
    const subscriber = createRedis(config, "subscriber");
    const hub = new UsageHub(subscriber, app.keys.updatesChannel, logger);
    // Not awaited: with Redis away at start, the subscription completes when it returns.
    void hub.start().catch((error: unknown) => logger.warn({ err: error }, "usage stream subscription failed"));
    app.decorate("usageHub", hub);
    app.addHook("onClose", async () => subscriber.disconnect());
  },
  { name: "stream", dependencies: ["redis"] },
);
