import type { GatewayConfig, Logger } from "@usage/core";
import { createPgExportFiles } from "@usage/db";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { createExportService, type ExportService } from "./export-service.ts";

declare module "fastify" {
  interface FastifyInstance {
    exports: ExportService;
  }
}

/**
 * Exports of raw hits: the service behind /api/exports. It owns nothing to close: its rows
 * are in `app.db` and its jobs go to `app.exportQueue` (infra/queue.ts), both closed there.
 */
export const exportsPlugin = fp(
  async (app: FastifyInstance, { config, logger }: { config: GatewayConfig; logger: Logger }) => {
    app.decorate(
      "exports",
      createExportService({
        db: app.db,
        queue: app.exportQueue,
        directory: app.auth.directory,
        files: createPgExportFiles(app.db),
        retentionDays: config.retentionDays,
        log: logger,
      }),
    );
  },
  { name: "exports", dependencies: ["db", "queue", "auth"] },
);
