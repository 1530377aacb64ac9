import { readdir, readFile } from "node:fs/promises";
import { sql } from "kysely";
import { type Migration, type MigrationProvider, type MigrationResultSet, Migrator } from "kysely/migration";
import type { Db } from "./db.ts";

const MIGRATIONS_DIR = new URL("../migrations/", import.meta.url);

/** Reviewable SQL migrations: `NNNN_name.up.sql` with its undo in `NNNN_name.down.sql`. */
export const sqlMigrationProvider = (dir: URL = MIGRATIONS_DIR): MigrationProvider => ({
  async getMigrations() {
    const files = (await readdir(dir)).filter((file) => file.endsWith(".up.sql")).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const name = file.slice(0, -".up.sql".length);
      const up = await readFile(new URL(file, dir), "utf8");
      const down = await readFile(new URL(`${name}.down.sql`, dir), "utf8");
      migrations[name] = {
        up: async (db) => void (await sql.raw(up).execute(db)),
        down: async (db) => void (await sql.raw(down).execute(db)),
      };
    }
    return migrations;
  },
});

const migrator = (db: Db): Migrator => new Migrator({ db, provider: sqlMigrationProvider() });

/** Throws on the first failure, naming the migration, so the command exits non-zero. */
const check = ({ error, results }: MigrationResultSet): string[] => {
  const failed = results?.find((result) => result.status === "Error");
  if (error !== undefined || failed !== undefined) {
    const cause = error instanceof Error ? error.message : String(error ?? "");
    throw new Error(`migration ${failed?.migrationName ?? "(setup)"} failed: ${cause}`, { cause: error });
  }
  return (results ?? []).map((result) => result.migrationName);
};

export const migrateToLatest = async (db: Db): Promise<string[]> => check(await migrator(db).migrateToLatest());

export const migrateDown = async (db: Db): Promise<string[]> => check(await migrator(db).migrateDown());
