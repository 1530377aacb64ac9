import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestEnv, type TestEnv } from "../src/harness.ts";
import { pgQuery } from "../src/pg-replica.ts";

/** A test file's env reads through the run's replica exactly when the run has one (USAGE_TEST_PG=replica). */
describe("test env and the run's Postgres", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => env?.cleanup());

  it("names the replica as DATABASE_READ_URL with a replica run, and nothing otherwise", async () => {
    const replica = inject("pgServers").replica;
    if (replica === undefined) {
      expect(env.env.DATABASE_READ_URL).toBeUndefined();
      expect(env.config.databaseReadUrl).toBe(env.config.databaseUrl);
      return;
    }
    const readUrl = env.env.DATABASE_READ_URL as string;
    expect(new URL(readUrl).port).toBe(new URL(replica).port);
    // A standby that already has this file's database and its migrated tables.
    const [row] = await pgQuery<{ recovering: boolean; clients: string }>(
      readUrl,
      "SELECT pg_is_in_recovery() AS recovering, to_regclass('clients')::text AS clients",
    );
    expect(row).toEqual({ recovering: true, clients: "clients" });
  });
});
