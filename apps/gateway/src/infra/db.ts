import type { GatewayConfig } from "@usage/core";
import { createDb, type Db } from "@usage/db";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

declare module "fastify" {
  interface FastifyInstance {
    db: Db;
  }
}

/** Postgres through Kysely; reads of clients and rollups only (the worker writes hits). */
export const dbPlugin = fp(
  async (app: FastifyInstance, { config }: { config: GatewayConfig }) => {
    const db = createDb(config.databaseUrl, { max: 10, applicationName: "usage-gateway" });
    app.decorate("db", db);
    app.addHook("onClose", async () => db.destroy());
  },
  { name: "db" },
);
