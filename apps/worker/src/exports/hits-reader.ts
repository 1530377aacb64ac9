import type { Readable } from "node:stream";
import { type Db, withDefaultUser } from "@usage/db";
import { sql } from "kysely";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { EXPORT_WORK_MEM } from "./export-sql.ts";

/** The export's reads of `hits`, on a connection of its own that can be stopped at any time. */
export interface HitsReader {
  count(query: { text: string; values: string[] }): Promise<number>;
  /** A COPY … TO STDOUT statement's output, paced by its consumer. */
  copy(statement: string): Readable;
  /**
   * Stops whatever runs now, on the server too (a COPY still sorting sends nothing, so only
   * a cancel reaches it), and closes the connection. Idempotent.
   */
  abort(): Promise<void>;
  close(): Promise<void>;
}

export const openHitsReader = async (databaseUrl: string, db: Db): Promise<HitsReader> => {
  const client = new pg.Client({
    connectionString: withDefaultUser(databaseUrl),
    application_name: "usage-export",
    // No parallel workers: a parallel sort of a week takes every core for seconds, those the
    // worker's inserts of live hits need (on 2 cores it cost ingest a fifth of its rate).
    options: `-c TimeZone=UTC -c work_mem=${EXPORT_WORK_MEM} -c max_parallel_workers_per_gather=0`,
  });
  // A connection lost mid-export surfaces as the query's or the stream's error; this keeps
  // the client's own 'error' event from crashing the process.
  client.on("error", () => {});
  await client.connect();
  const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  const pid = rows[0]?.pid as number;
  let current: Readable | undefined;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    if (closed === undefined) closed = client.end().catch(() => {});
    return closed;
  };
  return {
    async count(query) {
      const result = await client.query<{ n: number }>(query);
      return Number(result.rows[0]?.n ?? 0);
    },
    copy(statement) {
      const stream = client.query(copyTo(statement));
      // The consumer sees errors through its iteration; one arriving after it stopped
      // listening (an abort) must not become an uncaught 'error' event.
      stream.on("error", () => {});
      current = stream;
      return stream;
    },
    async abort() {
      if (closed !== undefined) return;
      // Through the worker's pool: this connection is busy with the statement to cancel.
      await sql`SELECT pg_cancel_backend(${pid})`.execute(db).catch(() => {});
      current?.destroy();
      await close();
    },
    close,
  };
};
