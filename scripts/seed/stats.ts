import type { Db } from "@usage/db";
import { sql } from "kysely";

export interface TableStats {
  hitsBytes: number;
  hitsPartitions: number;
  dailyRows: number;
  hourlyRows: number;
}

/** Refreshes planner statistics; the rollups are also vacuumed (every chunk's upsert left dead versions behind). */
export const analyze = async (db: Db): Promise<void> => {
  await sql`VACUUM (ANALYZE) usage_daily, usage_hourly`.execute(db);
  await sql`ANALYZE hits`.execute(db);
};

/** Size of `hits` over every partition (heap, indexes, TOAST), and the rollup row counts. */
export const tableStats = async (db: Db): Promise<TableStats> => {
  const { rows } = await sql<TableStats>`
    SELECT (SELECT sum(pg_total_relation_size(relid))::bigint FROM pg_partition_tree('hits')) AS "hitsBytes",
           (SELECT count(*)::int FROM pg_partition_tree('hits') WHERE isleaf) AS "hitsPartitions",
           (SELECT count(*)::int FROM usage_daily) AS "dailyRows",
           (SELECT count(*)::int FROM usage_hourly) AS "hourlyRows"`.execute(db);
  const stats = rows[0];
  if (stats === undefined) throw new Error("table statistics query returned no row");
  return stats;
};

export const formatBytes = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
};
