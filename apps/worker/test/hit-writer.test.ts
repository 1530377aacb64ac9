import { ensureIngestPartitions } from "@usage/db";
import { createTestEnv, type TestEnv } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHitWriter, SKIP_DUPLICATES_MS } from "../src/hit-writer.ts";
import { clientId, rawCount, rollupMismatches, wireHit } from "./helper.ts";

describe("hit writer", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
    await ensureIngestPartitions(env.db, 30);
  });
  afterAll(async () => env.cleanup());

  it("stores new hits with the plain insert, without falling back", async () => {
    let fallbacks = 0;
    const write = createHitWriter(env.db, () => fallbacks++);
    const client = clientId();
    const deltas = await write([wireHit(client), wireHit(client), wireHit(client)]);
    expect(deltas.map((d) => d.delta)).toEqual([3]);
    expect(fallbacks).toBe(0);
    expect(await rawCount(env, client)).toBe(3);
  });

  it("runs a statement that meets a stored hit again skipping it: each hit stored and counted once", async () => {
    let fallbacks = 0;
    const write = createHitWriter(env.db, () => fallbacks++);
    const client = clientId();
    const first = wireHit(client);
    await write([first]);
    const deltas = await write([first, wireHit(client)]);
    expect(fallbacks).toBe(1);
    expect(deltas.map((d) => [d.delta, d.total])).toEqual([[1, 2]]);
    expect(await rawCount(env, client)).toBe(2);
    expect(await rollupMismatches(env)).toBe(0);
  });

  it("skips duplicates outright for a while after one, then tries the plain insert again", async () => {
    let fallbacks = 0;
    let clock = 1_000_000;
    const write = createHitWriter(
      env.db,
      () => fallbacks++,
      () => clock,
    );
    const client = clientId();
    const hit = wireHit(client);
    await write([hit]);
    await write([hit]);
    expect(fallbacks).toBe(1);
    clock += SKIP_DUPLICATES_MS - 1;
    expect((await write([hit])).length).toBe(0);
    expect(fallbacks).toBe(1);
    clock += 2;
    expect((await write([hit])).length).toBe(0);
    expect(fallbacks).toBe(2);
    expect(await rawCount(env, client)).toBe(1);
  });

  it("passes on errors other than a duplicate", async () => {
    const write = createHitWriter(env.db);
    const bad = wireHit(clientId(), { ip: "not-an-ip" });
    await expect(write([bad])).rejects.toMatchObject({ code: "22P02" });
  });
});
