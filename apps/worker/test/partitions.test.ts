import { dropExpiredHitPartitions, ensureHitPartitions, HASH_PARTITIONS, insertHits, partitionName, weekStart } from "@usage/db";
import { createTestEnv, type TestEnv } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DAY = 86_400_000;

const partitions = async (env: TestEnv): Promise<string[]> => {
  const { rows } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'hits'::regclass ORDER BY 1`.execute(env.db);
  return rows.map((r) => r.name);
};

describe("hit partitions", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => env.cleanup());

  it("starts weeks on Monday 00:00 UTC", () => {
    expect(new Date(weekStart(Date.parse("2026-11-22T10:00:00Z"))).toISOString()).toBe("2026-11-16T00:00:00.000Z");
    expect(new Date(weekStart(Date.parse("2026-11-16T00:00:00Z"))).toISOString()).toBe("2026-11-16T00:00:00.000Z");
    expect(partitionName(Date.parse("2026-11-16T00:00:00Z"))).toBe("hits_w20261116");
  });

  it("creates weekly range partitions, each split by hash of client_id, idempotently", async () => {
    const from = Date.parse("2026-01-05T00:00:00Z");
    const created = await ensureHitPartitions(env.db, from, from + 20 * DAY);
    expect(created).toEqual(["hits_w20260105", "hits_w20260112", "hits_w20260119"]);
    expect(await ensureHitPartitions(env.db, from, from + 20 * DAY)).toEqual([]);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'hits_w20260105'::regclass`.execute(env.db);
    expect(rows[0]?.n).toBe(HASH_PARTITIONS);
  });

  it("survives replicas racing to create the same weeks", async () => {
    const from = Date.parse("2025-06-02T00:00:00Z");
    const results = await Promise.all([1, 2, 3].map(() => ensureHitPartitions(env.db, from, from + 13 * DAY)));
    expect(results.flat().sort()).toEqual(["hits_w20250602", "hits_w20250609"]);
  });

  it("drops whole expired weeks (a DROP, not a DELETE) and keeps the rest", async () => {
    const old = Date.parse("2024-03-04T00:00:00Z");
    await ensureHitPartitions(env.db, old, old + 13 * DAY);
    await insertHits(env.db, [
      ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-0000000000aa", old + DAY, old + DAY, "192.0.2.1", null, null, "/"],
    ]);
    const dropped = await dropExpiredHitPartitions(env.db, old + 8 * DAY);
    expect(dropped).toEqual(["hits_w20240304"]);
    const left = await partitions(env);
    expect(left).not.toContain("hits_w20240304");
    expect(left).toContain("hits_w20240311");
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM hits WHERE ts < ${new Date(old + 7 * DAY)}`.execute(env.db);
    expect(rows[0]?.n).toBe(0);
  });
});
