import type { GatewayConfig, Logger } from "@usage/core";
import { createDb, type Db } from "@usage/db";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { createReadDb, type ReadDb } from "./read-db.ts";

declare module "fastify" {
  interface FastifyInstance {
    /** The primary: every write, and the reads that must see every write (exports, the re-check). */
    db: Db;
    /** Rollups, client listings and lookups, stream snapshots: the replica when it can answer (read-db.ts). */
    reads: ReadDb;
  }
}

/** Postgres through Kysely: the primary, and the read replica of DATABASE_READ_URL when there is one. */
export const dbPlugin = fp(
  async (app: FastifyInstance, { config, logger }: { config: GatewayConfig; logger: Logger }) => {
    const db = createDb(config.databaseUrl, { max: 10, applicationName: "usage-gateway" });
    const reads = createReadDb({ primary: db, primaryUrl: config.databaseUrl, readUrl: config.databaseReadUrl, log: logger });
    app.decorate("db", db);
    app.decorate("reads", reads);
    app.addHook("onClose", async () => {
      await reads.close();
      await db.destroy();
    });
  },
  { name: "db" },
);
