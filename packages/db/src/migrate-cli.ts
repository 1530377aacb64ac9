import { createLogger, loadSharedConfigOrExit } from "@usage/core";
import { ensureDatabase } from "./create-database.ts";
import { createDb } from "./db.ts";
import { migrateDown, migrateToLatest } from "./migrate.ts";
import { ensureIngestPartitions } from "./partitions.ts";

/** `pnpm migrate` (to latest) or `pnpm migrate down` (undo the last one). Exits non-zero on failure. */
const config = loadSharedConfigOrExit();
const log = createLogger("migrate", config.logLevel);
const direction = process.argv[2] === "down" ? "down" : "up";
let failed = false;
try {
  if (await ensureDatabase(config.databaseUrl)) log.info("database created");
  const db = createDb(config.databaseUrl, { max: 1, applicationName: "usage-migrate" });
  try {
    const applied = direction === "up" ? await migrateToLatest(db) : await migrateDown(db);
    log.info({ direction, applied }, applied.length === 0 ? "no pending migrations" : "migrations applied");
    if (direction === "up") {
      const created = await ensureIngestPartitions(db, config.maxEventAgeDays);
      log.info({ created: created.length }, "hit partitions ready");
    }
  } finally {
    await db.destroy();
  }
} catch (error) {
  log.fatal({ err: error }, "migration failed");
  failed = true;
}
process.exit(failed ? 1 : 0);
