import { DAY_MS } from "@usage/core";
import { sql } from "kysely";
import type { Db } from "./db.ts";

/** Sub-partitions per week; fixed per week, so it can grow for new weeks without a rewrite. */
export const HASH_PARTITIONS = 8;
const WEEK_MS = 7 * DAY_MS;
const NAME = /^hits_w(\d{4})(\d{2})(\d{2})$/;

/** Monday 00:00 UTC of the week holding `ms`. */
export const weekStart = (ms: number): number => {
  const day = Math.floor(ms / DAY_MS);
  // 1970-01-01 was a Thursday: shift so weeks start on Monday.
  return (day - ((day + 3) % 7)) * DAY_MS;
};

export const partitionName = (startMs: number): string => `hits_w${new Date(startMs).toISOString().slice(0, 10).replaceAll("-", "")}`;

const existing = async (db: Db): Promise<string[]> => {
  const { rows } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'hits'::regclass`.execute(db);
  return rows.map((row) => row.name);
};

/**
 * Creates the weekly partitions (and their hash sub-partitions) covering [fromMs, toMs].
 * Idempotent and safe to race: replicas may run it at once.
 */
export const ensureHitPartitions = async (db: Db, fromMs: number, toMs: number): Promise<string[]> => {
  const have = new Set(await existing(db));
  const created: string[] = [];
  for (let start = weekStart(fromMs); start <= toMs; start += WEEK_MS) {
    const name = partitionName(start);
    if (have.has(name)) continue;
    const from = new Date(start).toISOString();
    const to = new Date(start + WEEK_MS).toISOString();
    await db.transaction().execute(async (trx) => {
      // Serialise DDL across replicas; a loser finds the table there and skips.
      await sql`SELECT pg_advisory_xact_lock(hashtext('hits-partitions'))`.execute(trx);
      if ((await existing(trx)).includes(name)) return;
      await sql`CREATE TABLE ${sql.id(name)} PARTITION OF hits FOR VALUES FROM (${sql.lit(from)}) TO (${sql.lit(to)}) PARTITION BY HASH (client_id)`.execute(
        trx,
      );
      for (let r = 0; r < HASH_PARTITIONS; r++) {
        await sql`CREATE TABLE ${sql.id(`${name}_p${r}`)} PARTITION OF ${sql.id(name)} FOR VALUES WITH (MODULUS ${sql.lit(HASH_PARTITIONS)}, REMAINDER ${sql.lit(r)})`.execute(
          trx,
        );
      }
      created.push(name);
    });
  }
  return created;
};

/** Drops every week that ended before `cutoffMs`: retention is a DROP, never a mass DELETE. */
export const dropExpiredHitPartitions = async (db: Db, cutoffMs: number): Promise<string[]> => {
  const dropped: string[] = [];
  for (const name of await existing(db)) {
    const match = NAME.exec(name);
    if (match === null) continue;
    const start = Date.parse(`${match[1]}-${match[2]}-${match[3]}T00:00:00Z`);
    if (start + WEEK_MS > cutoffMs) continue;
    await sql`DROP TABLE IF EXISTS ${sql.id(name)}`.execute(db);
    dropped.push(name);
  }
  return dropped;
};

/** Weeks of partitions kept ready ahead of today. */
const WEEKS_AHEAD = 4;

/** Partitions for every hit the gateway may accept now and in the coming weeks. */
export const ensureIngestPartitions = (db: Db, maxEventAgeDays: number, nowMs = Date.now()): Promise<string[]> =>
  ensureHitPartitions(db, nowMs - maxEventAgeDays * DAY_MS, nowMs + WEEKS_AHEAD * WEEK_MS);

/** Hourly rollups only serve the 24-hour top list; older rows are dead weight. */
export const pruneHourlyRollups = async (db: Db, cutoffMs: number): Promise<number> => {
  const result = await db.deleteFrom("usage_hourly").where("hour", "<", new Date(cutoffMs)).executeTakeFirst();
  return Number(result.numDeletedRows);
};
