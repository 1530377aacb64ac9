import { randomUUID } from "node:crypto";
import { DAY_MS } from "@usage/core";
import { type Db, ensureHitPartitions, utcMicros, weekStart } from "@usage/db";
import { HOSTILE } from "@usage/testkit";
import { sql } from "kysely";
import { insertHitRows, type SeedHit } from "./export-helper.ts";

/** Longer than a chunk: a record that makes the chunk buffer grow. */
export const HUGE_ENDPOINT = `/huge/${'x,"y"\n'.repeat(400_000)}`;

/** `ms` plus `micros` (0–999) in the export's timestamp form. */
export const at = (ms: number, micros = 0): string => `${utcMicros(ms).slice(0, -4)}${String(micros).padStart(3, "0")}Z`;

export interface HostileData {
  clients: string[];
  /** A Monday 00:00 UTC a week ago: rows lie on both sides of this partition bound. */
  boundary: number;
  from: string;
  to: string;
  hits: SeedHit[];
}

/**
 * About 3,000 hits over two weekly partitions (two days either side of a week's start), five
 * clients, hostile endpoints, timestamps to the microsecond (some shared by several clients,
 * some exactly on the week's bound), null and empty methods, null statuses.
 */
export const seedHostileHits = async (db: Db, count = 3_000): Promise<HostileData> => {
  const clients = Array.from({ length: 5 }, () => randomUUID());
  const boundary = weekStart(Date.now()) - 7 * DAY_MS;
  await ensureHitPartitions(db, boundary - 7 * DAY_MS, boundary + 7 * DAY_MS);
  const start = boundary - 2 * DAY_MS;
  const step = (4 * DAY_MS) / count;
  const hits: SeedHit[] = [];
  for (let i = 0; i < count; i++) {
    // Every tenth hit shares the previous one's instant, from another client.
    const ts = i % 10 === 9 ? (hits[i - 1]?.ts as string) : at(Math.floor(start + i * step), (i * 7919) % 1000);
    hits.push({
      clientId: clients[i % clients.length] as string,
      ts,
      ip: i % 4 === 0 ? "2001:db8::1" : `198.51.100.${i % 250}`,
      endpoint: i % 3 === 0 ? (HOSTILE[i % HOSTILE.length] as string) : `/v1/items/${i}`,
      method: i % 13 === 0 ? null : i % 29 === 0 ? "" : "GET",
      status: i % 17 === 0 ? null : 200,
    });
  }
  for (const client of clients) hits.push({ clientId: client, ts: at(boundary), endpoint: "/on/the/bound" });
  hits.push({ clientId: clients[0] as string, ts: at(boundary + DAY_MS, 1), endpoint: HUGE_ENDPOINT });
  await insertHitRows(db, hits);
  return { clients, boundary, from: at(boundary - 3 * DAY_MS), to: at(boundary + 3 * DAY_MS), hits };
};

/**
 * `count` hits generated in Postgres, spread over ten days across a week's start, four
 * clients, one endpoint in seven with a comma, quotes and a LF.
 */
export const seedBulkHits = async (db: Db, count: number): Promise<{ from: string; to: string }> => {
  const boundary = weekStart(Date.now()) - 7 * DAY_MS;
  await ensureHitPartitions(db, boundary - 7 * DAY_MS, boundary + 7 * DAY_MS);
  const start = boundary - 5 * DAY_MS;
  const clients = Array.from({ length: 4 }, () => randomUUID());
  // With the days' rollups, as the worker's statement keeps them (the export's count reads those).
  await sql`
    WITH inserted AS (
    INSERT INTO hits (client_id, id, ts, received_at, ip, endpoint, method, status)
    SELECT (${clients}::uuid[])[1 + i % 4], gen_random_uuid(), t, t, '203.0.113.9',
           CASE WHEN i % 7 = 0 THEN '/v1/"odd",' || i || chr(10) || 'x' ELSE '/v1/things/' || i END,
           CASE WHEN i % 11 = 0 THEN NULL ELSE 'POST' END, CASE WHEN i % 13 = 0 THEN NULL ELSE 201 END
    FROM generate_series(0, ${count - 1}::int) AS i,
         LATERAL (SELECT ${new Date(start)}::timestamptz + (i::float8 * ${(10 * DAY_MS) / count}::float8) * interval '1 millisecond' AS t) AS g
    RETURNING client_id, ts
    )
    INSERT INTO usage_daily (client_id, day, total)
    SELECT client_id, (ts AT TIME ZONE 'UTC')::date, count(*) FROM inserted GROUP BY 1, 2`.execute(db);
  return { from: at(start), to: at(start + 10 * DAY_MS) };
};
