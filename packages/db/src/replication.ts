import { sql } from "kysely";
import pg from "pg";
import type { Db } from "./db.ts";

/** A WAL position (`16/B374D848`) as a number that compares like the server compares it. */
export const parseLsn = (text: string): bigint | undefined => {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text);
  return match === null ? undefined : (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
};

/** Where the primary's WAL stands now: every transaction committed before this call lies before it. */
export const walPosition = async (db: Db): Promise<string> => {
  const { rows } = await sql<{ lsn: string }>`SELECT pg_current_wal_lsn()::text AS lsn`.execute(db);
  return (rows[0] as { lsn: string }).lsn;
};

/** How far a standby has replayed the primary's WAL; null when the server is not a standby. */
export const replayPosition = async (db: Db): Promise<string | null> => {
  const { rows } = await sql<{ lsn: string | null }>`SELECT pg_last_wal_replay_lsn()::text AS lsn`.execute(db);
  return rows[0]?.lsn ?? null;
};

/** The SQLSTATE of an error the server itself answered; undefined for a network, pool or client error. */
export const sqlState = (error: unknown): string | undefined => (error instanceof pg.DatabaseError ? error.code : undefined);
