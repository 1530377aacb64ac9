import { createDb, ensureDatabase, migrateToLatest } from "@usage/db";
import { databaseUrl, TEST_DATABASE_URL, uniqueSuffix } from "./env.ts";
import { startPgReplica, waitForReplay } from "./pg-replica.ts";

/** Where test databases are made: a primary, and the streaming replica the gateways read from, if any. */
export interface PgServers {
  primary: string;
  replica?: string;
}

export interface TestPostgres {
  servers: PgServers;
  stop(): Promise<void>;
}

/**
 * The run's servers, chosen by USAGE_TEST_PG: unset, the shared server of DATABASE_URL;
 * `replica`, a private primary and its streaming replica (pg-replica.ts), so every test
 * database is read through a replica as a deployment with DATABASE_READ_URL would.
 */
export const startTestPostgres = async (mode = process.env.USAGE_TEST_PG ?? ""): Promise<TestPostgres> => {
  if (mode === "") return { servers: { primary: TEST_DATABASE_URL }, stop: async () => {} };
  if (mode !== "replica") throw new Error(`USAGE_TEST_PG must be "replica" or unset (got "${mode}")`);
  const pair = await startPgReplica();
  return { servers: { primary: pair.primaryUrl, replica: pair.replicaUrl }, stop: () => pair.stop() };
};

/** A migrated database on `server` for test databases to be cloned from; its name. */
export const createTemplate = async (server: string): Promise<string> => {
  const template = `usage_tpl_${uniqueSuffix()}`;
  await ensureDatabase(databaseUrl(template, server));
  const db = createDb(databaseUrl(template, server), { max: 1 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  return template;
};

/**
 * DATABASE_URL of a test database on the primary and, with a replica, DATABASE_READ_URL on
 * it once the replica has replayed the database's creation (a gateway must not find it missing).
 */
export const testDatabaseEnv = async (servers: PgServers, name: string): Promise<Record<string, string>> => {
  const primary = { DATABASE_URL: databaseUrl(name, servers.primary) };
  if (servers.replica === undefined) return primary;
  await waitForReplay(servers.primary, servers.replica);
  return { ...primary, DATABASE_READ_URL: databaseUrl(name, servers.replica) };
};
