import { sql } from "kysely";
import type { Db } from "./db.ts";

export interface DayTotal {
  day: string;
  total: number;
}

export interface ClientTotal {
  clientId: string;
  total: number;
}

/** Position after which a ranking page starts: (total desc, client_id asc). */
export interface RankCursor {
  total: number;
  clientId: string;
}

export const dailyTotalsForClients = async (
  db: Db,
  clientIds: readonly string[],
  fromDay: string,
  toDay: string,
): Promise<Array<DayTotal & { clientId: string }>> => {
  if (clientIds.length === 0) return [];
  const rows = await db
    .selectFrom("usage_daily")
    .select(["client_id", "day", "total"])
    .where("client_id", "in", clientIds)
    .where("day", ">=", fromDay)
    .where("day", "<=", toDay)
    .execute();
  return rows.map((row) => ({ clientId: row.client_id, day: row.day, total: row.total }));
};

/** Clients ranked by their total over [fromDay, toDay], keyset-paged. */
export const rankClientsByDays = async (
  db: Db,
  fromDay: string,
  toDay: string,
  limit: number,
  after?: RankCursor,
): Promise<ClientTotal[]> => {
  const { rows } = await sql<ClientTotal>`
    SELECT client_id AS "clientId", sum(total)::bigint AS total
    FROM usage_daily WHERE day BETWEEN ${fromDay} AND ${toDay}
    GROUP BY client_id
    HAVING sum(total) > 0 ${
      after === undefined
        ? sql``
        : sql`AND (sum(total) < ${after.total} OR (sum(total) = ${after.total} AND client_id > ${after.clientId}::uuid))`
    }
    ORDER BY total DESC, client_id ASC
    LIMIT ${limit}`.execute(db);
  return rows;
};

/** Top clients by hits in the hours from `fromMs` on (hour-granular). */
export const topClientsSince = async (db: Db, fromMs: number, limit: number): Promise<ClientTotal[]> => {
  const { rows } = await sql<ClientTotal>`
    SELECT client_id AS "clientId", sum(total)::bigint AS total
    FROM usage_hourly WHERE hour >= ${new Date(fromMs)}
    GROUP BY client_id
    ORDER BY total DESC, client_id ASC
    LIMIT ${limit}`.execute(db);
  return rows;
};

/** Every (client, day) rollup from `fromDay` on: what the reconciler compares Redis against. */
export const dailyRollupsSince = async (db: Db, fromDay: string): Promise<Array<DayTotal & { clientId: string }>> => {
  const rows = await db.selectFrom("usage_daily").select(["client_id", "day", "total"]).where("day", ">=", fromDay).execute();
  return rows.map((row) => ({ clientId: row.client_id, day: row.day, total: row.total }));
};

export const hourlyRollupsSince = async (db: Db, fromMs: number): Promise<Array<{ clientId: string; hour: number; total: number }>> => {
  const rows = await db.selectFrom("usage_hourly").select(["client_id", "hour", "total"]).where("hour", ">=", new Date(fromMs)).execute();
  return rows.map((row) => ({ clientId: row.client_id, hour: row.hour.getTime(), total: row.total }));
};

/** Every client's committed total for one day (the stream's admin snapshot). */
export const dailyTotalsOfDay = async (db: Db, day: string): Promise<Array<{ clientId: string; total: number }>> => {
  const rows = await db.selectFrom("usage_daily").select(["client_id", "total"]).where("day", "=", day).orderBy("total", "desc").execute();
  return rows.map((row) => ({ clientId: row.client_id, total: row.total }));
};
