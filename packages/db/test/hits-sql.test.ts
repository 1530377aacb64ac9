import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from "kysely";
import { describe, expect, it } from "vitest";
import { arrayLiteral, insertHitsQuery } from "../src/hits.ts";
import type { Database } from "../src/schema.ts";
import { dailyTotalsForClients, rankClientsByDays, topClientsSince } from "../src/usage.ts";

/** A Kysely that compiles for Postgres and records each statement instead of running it. */
const recorder = () => {
  const statements: string[] = [];
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (inner) => new PostgresIntrospector(inner),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    log: (event) => void statements.push(event.query.sql),
  });
  return { db, statements };
};

/** The hot statements as compiled SQL: a change to them shows up in review. */
describe("hot query snapshots", () => {
  it("insertHitsQuery: one statement, hits then rollups, input sorted by client", () => {
    const { db } = recorder();
    const query = insertHitsQuery(db, [
      ["b0000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000001", 1, 2, "192.0.2.1", "GET", 200, "/b"],
      ["a0000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000002", 3, 4, "::1", null, null, "/a"],
    ]);
    expect(query.sql).toMatchSnapshot();
    expect(query.parameters.slice(0, 4)).toEqual([
      "{a0000000-0000-4000-8000-000000000000,b0000000-0000-4000-8000-000000000000}",
      "{00000000-0000-4000-8000-000000000002,00000000-0000-4000-8000-000000000001}",
      "{3,1}",
      "{4,2}",
    ]);
    expect(query.parameters[5]).toBe("{NULL,200}");
  });

  it("insertHitsQuery with onDuplicate 'fail': the same statement without ON CONFLICT on the hits", () => {
    const { db } = recorder();
    const hit = ["a0000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000002", 3, 4, "::1", null, null, "/a"] as const;
    const skip = insertHitsQuery(db, [hit]).sql;
    const fail = insertHitsQuery(db, [hit], "fail").sql;
    expect(fail).toMatchSnapshot();
    expect(skip).toContain("ON CONFLICT DO NOTHING");
    expect(fail).not.toContain("ON CONFLICT DO NOTHING");
    expect(fail.replace(/\s+/g, " ")).toBe(skip.replace("ON CONFLICT DO NOTHING", "").replace(/\s+/g, " "));
  });

  it("arrayLiteral quotes the strings Postgres would misread bare and escapes only quotes and backslashes", () => {
    expect(arrayLiteral(["a,b", "{x}", "NULL", null, 'say "hi"', "back\\slash", 7, "plain", ""])).toBe(
      '{"a,b","{x}","NULL",NULL,"say \\"hi\\"","back\\\\slash",7,plain,""}',
    );
    expect(arrayLiteral([])).toBe("{}");
  });

  it("usage reads touch the rollups only, never the raw hits", async () => {
    const { db, statements } = recorder();
    await dailyTotalsForClients(db, ["a0000000-0000-4000-8000-000000000000"], "2026-11-16", "2026-11-22");
    await rankClientsByDays(db, "2026-11-16", "2026-11-22", 10, { total: 5, clientId: "a0000000-0000-4000-8000-000000000000" });
    await topClientsSince(db, 0, 3);
    expect(statements).toHaveLength(3);
    expect(statements).toMatchSnapshot();
    for (const statement of statements) expect(statement).not.toMatch(/\bhits\b/);
  });
});
