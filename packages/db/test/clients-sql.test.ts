import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from "kysely";
import { describe, expect, it } from "vitest";
import { listClients } from "../src/client-admin.ts";
import { findClientByKeyDigest } from "../src/clients.ts";
import type { Database } from "../src/schema.ts";

/** A Kysely that compiles for Postgres and records each statement instead of running it. */
const recorder = () => {
  const statements: Array<{ sql: string; parameters: readonly unknown[] }> = [];
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (inner) => new PostgresIntrospector(inner),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    log: (event) => void statements.push({ sql: event.query.sql, parameters: event.query.parameters }),
  });
  return { db, statements };
};

/** The client queries as compiled SQL: a change to them shows up in review. */
describe("client query snapshots", () => {
  it("findClientByKeyDigest: one indexed lookup that only finds keys still working", async () => {
    const { db, statements } = recorder();
    await findClientByKeyDigest(db, Buffer.alloc(32));
    expect(statements.map((s) => s.sql)).toMatchSnapshot();
  });

  it("listClients: keyset page, newest first, by name prefix or whole-email digest, LIKE wildcards taken literally", async () => {
    const { db, statements } = recorder();
    await listClients(db, {
      limit: 10,
      after: { createdAt: "2026-01-02T03:04:05.123456Z", clientId: "a0000000-0000-4000-8000-000000000000" },
      match: { namePrefix: "50%_off\\", emailDigest: Buffer.alloc(32) },
    });
    expect(statements.map((s) => s.sql)).toMatchSnapshot();
    expect(statements[0]?.parameters).toEqual([
      "2026-01-02T03:04:05.123456Z",
      "a0000000-0000-4000-8000-000000000000",
      Buffer.alloc(32),
      "50\\%\\_off\\\\%",
      11,
    ]);
  });
});
