import { userInfo } from "node:os";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Database } from "./schema.ts";

// bigint counts fit in a double for any realistic total; dates stay `YYYY-MM-DD` strings
// so a UTC day never shifts through the local time zone.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

export type Db = Kysely<Database>;

export interface DbOptions {
  max?: number;
  applicationName?: string;
  /** How long to wait for a connection (default 5 s). */
  connectionTimeoutMillis?: number;
  /** Client-side bound on one query, for a server that may hang (default: none). */
  queryTimeoutMillis?: number;
}

/** Like libpq: a URL without a user name connects as the operating-system user. */
export const withDefaultUser = (url: string): string => {
  const parsed = new URL(url);
  if (parsed.username !== "") return url;
  parsed.username = userInfo().username;
  return parsed.toString();
};

export const createPool = (url: string, options: DbOptions = {}): pg.Pool => {
  const pool = new pg.Pool({
    connectionString: withDefaultUser(url),
    max: options.max ?? 10,
    application_name: options.applicationName ?? "usage",
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    ...(options.queryTimeoutMillis === undefined ? {} : { query_timeout: options.queryTimeoutMillis }),
    idleTimeoutMillis: 30_000,
    // Rollups truncate to UTC hours and days; pin the session zone so no server default leaks in.
    options: "-c TimeZone=UTC",
  });
  // An idle client that loses its server emits here; without a listener it would crash the process.
  pool.on("error", () => {});
  // A client checked out has no listener of the pool's: when its server goes (a replica
  // stopped, a backend terminated) its 'error' event would crash the process the same way.
  // The query in flight is rejected on its own, and the pool drops the dead client on release.
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
};

export const createDb = (url: string, options: DbOptions = {}): Db => dbOnPool(createPool(url, options));

/** A Db over a pool the caller also uses directly (a COPY needs pg's own connection); `db.destroy()` ends the pool. */
export const dbOnPool = (pool: pg.Pool): Db => new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
