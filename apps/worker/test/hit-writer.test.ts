import { arrayLiteral, ensureIngestPartitions } from "@usage/db";
import { createTestEnv, type TestEnv } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHitWriter } from "../src/hit-writer.ts";
import { clientId, rawCount, rollupMismatches, wireHit } from "./helper.ts";

describe("hit writer", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
    await ensureIngestPartitions(env.db, 30);
  });
  afterAll(async () => env.cleanup());

  it("builds array literals Postgres reads back as the same values, quoted only where needed", async () => {
    const values = [
      ...["", " ", "\t", "\n", "\r", "\v", "\f", " lead", "trail ", "in side", "\u00a0", "\u2003"],
      ...["NULL", "null", "nUlL", " NULL", "NULLx", "xnull", "{", "}", "{}", ",", "a,b", '"', '""', "\\", "\\\\", '\\"'],
      ...["[1:2]={x}", "'", "--", "$1", "é", "☃", "/v1/things?a=1&b=2", "192.0.2.1", "2001:db8::1%eth0"],
      null,
    ];
    const { rows } = await sql<{ value: string | null }>`SELECT unnest(${arrayLiteral(values)}::text[]) AS value`.execute(env.db);
    expect(rows.map((row) => row.value)).toEqual(values);
    // Bare where Postgres reads them as they are: no copy per element.
    expect(arrayLiteral(["192.0.2.1", "GET", "/v1/things", 7, null, "null", "a b"])).toBe('{192.0.2.1,GET,/v1/things,7,NULL,"null","a b"}');
  });

  it("stores new hits with the plain insert, without falling back", async () => {
    let fallbacks = 0;
    const write = createHitWriter(env.db, () => fallbacks++);
    const client = clientId();
    const deltas = await write([wireHit(client), wireHit(client), wireHit(client)], false);
    expect(deltas.map((d) => d.delta)).toEqual([3]);
    expect(fallbacks).toBe(0);
    expect(await rawCount(env, client)).toBe(3);
  });

  it("runs a statement that meets an unforeseen stored hit again skipping it: each hit stored and counted once", async () => {
    let fallbacks = 0;
    const write = createHitWriter(env.db, () => fallbacks++);
    const client = clientId();
    const first = wireHit(client);
    await write([first], false);
    const deltas = await write([first, wireHit(client)], false);
    expect(fallbacks).toBe(1);
    expect(deltas.map((d) => [d.delta, d.total])).toEqual([[1, 2]]);
    expect(await rawCount(env, client)).toBe(2);
    expect(await rollupMismatches(env)).toBe(0);
  });

  it("skips stored hits from the start when they may exist: no failed statement", async () => {
    let fallbacks = 0;
    const write = createHitWriter(env.db, () => fallbacks++);
    const client = clientId();
    const first = wireHit(client);
    await write([first], false);
    const deltas = await write([first, wireHit(client)], true);
    expect(deltas.map((d) => [d.delta, d.total])).toEqual([[1, 2]]);
    expect(fallbacks).toBe(0);
    expect(await rawCount(env, client)).toBe(2);
  });

  it("passes on errors other than a duplicate", async () => {
    const write = createHitWriter(env.db);
    const bad = wireHit(clientId(), { ip: "not-an-ip" });
    await expect(write([bad], false)).rejects.toMatchObject({ code: "22P02" });
  });
});
