import { randomUUID } from "node:crypto";
import { ensureHitPartitions, withDefaultUser } from "@usage/db";
import { createTestEnv, type TestEnv } from "@usage/testkit";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countQuery } from "../src/exports/export-sql.ts";
import { insertHitRows, type SeedHit } from "./export-helper.ts";

describe("the export's count of its range", () => {
  let env: TestEnv;
  let client: pg.Client;
  // The last five UTC days, today included: their weekly partitions exist in a new database.
  const day = (offset: number): string => new Date(Date.now() - (4 - offset) * 86_400_000).toISOString().slice(0, 10);
  const alice = randomUUID();
  const bob = randomUUID();
  beforeAll(async () => {
    env = await createTestEnv();
    await ensureHitPartitions(env.db, Date.now() - 10 * 86_400_000, Date.now() + 2 * 86_400_000);
    // Hits over five days, at midnight, a microsecond either side of it, and in between.
    const hits: SeedHit[] = [];
    for (let offset = 0; offset < 5; offset++) {
      for (const time of ["00:00:00.000000", "00:00:00.000001", "07:30:00.000000", "23:59:59.999999"]) {
        hits.push({ clientId: alice, ts: `${day(offset)}T${time}Z`, endpoint: "/a" });
        if (offset % 2 === 0) hits.push({ clientId: bob, ts: `${day(offset)}T${time}Z`, endpoint: "/b" });
      }
    }
    await insertHitRows(env.db, hits);
    client = new pg.Client({ connectionString: withDefaultUser(env.config.databaseUrl), options: "-c TimeZone=UTC" });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await env?.cleanup();
  });

  const counted = async (from: string, to: string, clientId: string | null): Promise<number> =>
    Number((await client.query<{ n: string }>(countQuery(from, to, clientId))).rows[0]?.n);
  const scanned = async (from: string, to: string, clientId: string | null): Promise<number> => {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM hits WHERE ts >= ${from}::timestamptz AND ts < ${to}::timestamptz
      AND (${clientId}::uuid IS NULL OR client_id = ${clientId}::uuid)`.execute(env.db);
    return rows[0]?.n ?? 0;
  };

  const at = (offset: number, time: string): string => `${day(offset)}T${time}Z`;
  const ranges: Array<[string, string]> = [
    [at(0, "00:00:00.000000"), at(5, "00:00:00.000000")], // whole days only
    [at(0, "00:00:00.000001"), at(4, "23:59:59.999999")], // a microsecond in from each end
    [at(1, "07:30:00.000000"), at(3, "07:30:00.000001")], // partial days at both ends
    [at(2, "00:00:00.000000"), at(2, "12:00:00.000000")], // within one day
    [at(1, "12:00:00.000000"), at(2, "12:00:00.000000")], // two partial days, no whole one
    [at(-3, "00:00:00.000000"), at(0, "00:00:00.000000")], // before every hit
  ];

  it("equals a scan of the raw hits, for every client and for one, whatever the ends", async () => {
    for (const [from, to] of ranges) {
      for (const clientId of [null, alice, bob]) {
        expect({ from, to, clientId, n: await counted(from, to, clientId) }).toEqual({
          from,
          to,
          clientId,
          n: await scanned(from, to, clientId),
        });
      }
    }
  });
});
