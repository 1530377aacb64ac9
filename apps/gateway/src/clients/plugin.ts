import { createEmailCipher, type GatewayConfig, type Logger } from "@usage/core";
import { createRedis } from "@usage/store";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { type ClientService, createClientService } from "./client-service.ts";
import { type ClientChanges, createClientChanges } from "./propagation.ts";

declare module "fastify" {
  interface FastifyInstance {
    clients: ClientService;
    clientChanges: ClientChanges;
  }
}

/**
 * Client management: the service behind /api/clients, and the propagation of every client
 * change to all gateways (pub/sub on a subscriber connection of its own, plus a periodic
 * re-check of `clients.updated_at`).
 */
export const clientsPlugin = fp(
  async (app: FastifyInstance, { config, logger }: { config: GatewayConfig; logger: Logger }) => {
    const subscriber = createRedis(config, "subscriber");
    const changes = createClientChanges({
      db: app.db,
      redis: app.redis,
      subscriber,
      channel: app.keys.clientsChannel,
      directory: app.auth.directory,
      hub: app.usageHub,
      log: logger,
    });
    const service = createClientService({
      db: app.db,
      cipher: createEmailCipher(config.encryptionKey),
      changes,
      directory: app.auth.directory,
      ingest: app.ingest,
      log: logger,
    });
    app.decorate("clients", service);
    app.decorate("clientChanges", changes);
    changes.start();
    app.addHook("onClose", async () => {
      await changes.stop();
      subscriber.disconnect();
    });
  },
  { name: "clients", dependencies: ["db", "redis", "auth", "stream", "ingest"] },
);
