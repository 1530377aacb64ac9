import { randomBytes, randomUUID } from "node:crypto";
import { insertClient, migrateDown, migrateToLatest, rotateClientKey, updateClient } from "@usage/db";
import { createTestEnv, type TestEnv } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The shape of the two tables as Postgres describes it: columns, constraints, indexes. */
const shape = async (env: TestEnv) => {
  const { rows } = await sql<{ item: string }>`
    SELECT format('column %s.%s %s %s', table_name, column_name, data_type, is_nullable) AS item
      FROM information_schema.columns WHERE table_schema = 'public' AND table_name IN ('clients', 'client_keys')
    UNION ALL
    SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid)) FROM pg_constraint
      WHERE conrelid IN (SELECT oid FROM pg_class WHERE relname IN ('clients', 'client_keys'))
    UNION ALL
    SELECT format('index %s', indexdef) FROM pg_indexes WHERE tablename IN ('clients', 'client_keys')
    ORDER BY 1`.execute(env.db);
  return rows.map((row) => row.item);
};

const tableExists = async (env: TestEnv, name: string): Promise<boolean> => {
  const { rows } = await sql<{ found: boolean }>`SELECT to_regclass(${name}) IS NOT NULL AS found`.execute(env.db);
  return rows[0]?.found === true;
};

const newClient = (name: string) => ({
  client_id: randomUUID(),
  name,
  email_ciphertext: randomBytes(40),
  email_digest: randomBytes(32),
});

describe("migration 0002_client_keys: up, down, up", () => {
  let env: TestEnv;
  let latest: string[];
  beforeAll(async () => {
    env = await createTestEnv();
    latest = await shape(env);
    // Later migrations (which touch neither table) are undone first, so 0002 is the last one here.
    expect(await migrateDown(env.db)).toEqual(["0003_exports"]);
  });
  afterAll(async () => env?.cleanup());

  it("down keeps each client's current key in clients.api_key_digest and drops the key table", async () => {
    const rotated = newClient("rotated");
    const first = randomBytes(32);
    const second = randomBytes(32);
    await insertClient(env.db, rotated, first);
    expect(await rotateClientKey(env.db, rotated.client_id, second, 3600)).toMatchObject({ key_created_at: expect.any(Date) });
    const blocked = newClient("blocked");
    await insertClient(env.db, blocked, randomBytes(32));
    await updateClient(env.db, blocked.client_id, { rate_limit_per_hour: 0 });

    expect(await migrateDown(env.db)).toEqual(["0002_client_keys"]);

    expect(await tableExists(env, "client_keys")).toBe(false);
    const { rows } = await sql<{ client_id: string; api_key_digest: Buffer; rate_limit_per_hour: number | null }>`
      SELECT client_id, api_key_digest, rate_limit_per_hour FROM clients ORDER BY name DESC`.execute(env.db);
    expect(rows).toEqual([
      { client_id: rotated.client_id, api_key_digest: second, rate_limit_per_hour: null },
      // The old schema cannot say "blocked": the nearest it holds.
      { client_id: blocked.client_id, api_key_digest: expect.any(Buffer), rate_limit_per_hour: 1 },
    ]);
    const columns = (await shape(env)).filter((item) => item.startsWith("column clients."));
    expect(columns).toContain("column clients.api_key_digest bytea NO");
    expect(columns.some((item) => item.includes("updated_at"))).toBe(false);
    // The old CHECK is back: 0 is refused again.
    await expect(sql`UPDATE clients SET rate_limit_per_hour = 0`.execute(env.db)).rejects.toThrow(/rate_limit_per_hour_check/);
  });

  it("up moves the digests of clients written by the old schema into client_keys as current keys", async () => {
    const old = newClient("written before 0002");
    const digest = randomBytes(32);
    await sql`
      INSERT INTO clients (client_id, name, email_ciphertext, email_digest, api_key_digest, created_at)
      VALUES (${old.client_id}, ${old.name}, ${old.email_ciphertext}, ${old.email_digest}, ${digest}, '2025-01-02T03:04:05Z')`.execute(
      env.db,
    );

    expect(await migrateToLatest(env.db)).toEqual(["0002_client_keys", "0003_exports"]);

    const { rows } = await sql<{ key_digest: Buffer; created_at: Date; expires_at: Date | null; updated_at: Date }>`
      SELECT k.key_digest, k.created_at, k.expires_at, c.updated_at
      FROM client_keys k JOIN clients c USING (client_id) WHERE client_id = ${old.client_id}`.execute(env.db);
    expect(rows).toEqual([
      {
        key_digest: digest,
        created_at: new Date("2025-01-02T03:04:05Z"),
        expires_at: null,
        updated_at: new Date("2025-01-02T03:04:05Z"),
      },
    ]);
    // One current key per client, every client: the previous key of the rotated one did not survive the round trip.
    const { rows: counts } = await sql<{ clients: number; keys: number }>`
      SELECT (SELECT count(*)::int FROM clients) AS clients, (SELECT count(*)::int FROM client_keys WHERE expires_at IS NULL) AS keys`.execute(
      env.db,
    );
    expect(counts[0]).toEqual({ clients: 3, keys: 3 });
    expect(await shape(env)).toEqual(latest);
  });

  it("goes down and up again with the same result", async () => {
    expect(await migrateDown(env.db)).toEqual(["0003_exports"]);
    expect(await migrateDown(env.db)).toEqual(["0002_client_keys"]);
    expect(await migrateToLatest(env.db)).toEqual(["0002_client_keys", "0003_exports"]);
    expect(await shape(env)).toEqual(latest);
    await expect(sql`UPDATE clients SET rate_limit_per_hour = 0`.execute(env.db)).resolves.toBeDefined();
  });
});
