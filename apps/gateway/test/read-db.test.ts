import { createDb, type Db, walPosition } from "@usage/db";
import { eventually, type PrivatePgReplica, pgQuery, silentLogger, startPgReplica, waitForReplay } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createReadDb, type ReadDb } from "../src/infra/read-db.ts";

/**
 * The module that chooses replica or primary, on a private primary and streaming replica.
 * A paused replay makes the replica differ from the primary, so each answer shows which
 * server gave it.
 */
describe("read db: replica when it can answer, primary otherwise", () => {
  let pair: PrivatePgReplica;
  let primary: Db;
  const opened: ReadDb[] = [];
  let next = 0;

  beforeAll(async () => {
    pair = await startPgReplica();
    primary = createDb(pair.primaryUrl, { max: 2 });
    await pgQuery(pair.primaryUrl, "CREATE TABLE marks (id int PRIMARY KEY)");
    await waitForReplay(pair.primaryUrl, pair.replicaUrl);
  });
  afterEach(async () => {
    await pair.resumeReplay().catch(() => {});
    await Promise.all(opened.splice(0).map((reads) => reads.close()));
  });
  afterAll(async () => {
    await primary?.destroy();
    await pair?.stop();
  });

  /** A read db on the pair whose fence stays still unless the test says otherwise. */
  const readDb = async (fenceEveryMs = 600_000): Promise<ReadDb> => {
    const reads = createReadDb({ primary, primaryUrl: pair.primaryUrl, readUrl: pair.replicaUrl, log: silentLogger(), fenceEveryMs });
    opened.push(reads);
    await eventually(async () => {
      await reads.read(async () => undefined);
      return reads.status().replica === "up" ? true : undefined;
    });
    return reads;
  };
  const mark = async (): Promise<number> => {
    next += 1;
    await pgQuery(pair.primaryUrl, "INSERT INTO marks VALUES ($1)", [next]);
    return next;
  };
  const has = (id: number) => async (db: Db) => {
    const { rows } = await sql<{ id: number }>`SELECT id FROM marks WHERE id = ${id}`.execute(db);
    return rows[0]?.id;
  };

  it("reads the replica: a row the paused replica has not replayed is not there", async () => {
    const reads = await readDb();
    await pair.pauseReplay();
    const id = await mark();
    const before = reads.status().reads;
    expect(await reads.read(has(id))).toBeUndefined();
    expect(reads.status().reads).toEqual({ replica: before.replica + 1, primary: before.primary });
  });

  it("asks the primary about what the replica missed, when the caller says a miss may be recent", async () => {
    const reads = await readDb();
    await pair.pauseReplay();
    const id = await mark();
    const before = reads.status().reads;
    expect(await reads.read(has(id), { missed: (found) => found === undefined })).toBe(id);
    expect(reads.status().reads).toEqual({ replica: before.replica + 1, primary: before.primary + 1 });
    // A real absence costs the same two reads and stays an absence.
    expect(await reads.read(has(-1), { missed: (found) => found === undefined })).toBeUndefined();
  });

  it("after a write (barrier), reads the primary until the replica has replayed it, then the replica again", async () => {
    const reads = await readDb();
    await pair.pauseReplay();
    const id = await mark();
    expect(await reads.barrier()).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(reads.status().replica).toBe("behind");
    const before = reads.status().reads;
    expect(await reads.read(has(id))).toBe(id);
    expect(reads.status().reads.primary).toBe(before.primary + 1);
    await pair.resumeReplay();
    await eventually(async () => {
      await reads.read(has(id));
      return reads.status().replica === "up" ? true : undefined;
    });
    const caughtUp = reads.status().reads;
    expect(await reads.read(has(id))).toBe(id);
    expect(reads.status().reads.replica).toBe(caughtUp.replica + 1);
  });

  it("waits likewise for a position another gateway wrote up to (after)", async () => {
    const reads = await readDb();
    await pair.pauseReplay();
    const id = await mark();
    reads.after(await walPosition(primary));
    expect(await reads.read(has(id))).toBe(id);
    expect(reads.status().replica).toBe("behind");
  });

  it("bounds staleness without any write it knows of: past the fence period, a stalled replica is not read", async () => {
    const reads = await readDb(300);
    await pair.pauseReplay();
    const id = await mark();
    expect(await eventually(async () => ((await reads.read(has(id))) === id ? true : undefined), 5_000)).toBe(true);
    expect(reads.status().replica).toBe("behind");
  });

  it("reads the primary while the replica is killed, and the replica again once it is back", async () => {
    const reads = await readDb();
    const id = await mark();
    await pair.killReplica();
    try {
      // The first read finds the replica gone and is answered by the primary; so are the next ones.
      for (let i = 0; i < 3; i++) expect(await reads.read(has(id))).toBe(id);
      expect(reads.status().replica).toBe("down");
    } finally {
      await pair.startReplica();
    }
    await eventually(async () => {
      await reads.read(has(id));
      return reads.status().replica === "up" ? true : undefined;
    }, 10_000);
    const back = reads.status().reads;
    expect(await reads.read(has(id))).toBe(id);
    expect(reads.status().reads.replica).toBe(back.replica + 1);
  });

  it("passes on a query's own error (the primary would say the same) and keeps the replica", async () => {
    const reads = await readDb();
    const before = reads.status().reads;
    await expect(reads.read((db) => sql`SELECT 1 / 0`.execute(db))).rejects.toThrow(/division by zero/);
    expect(reads.status()).toEqual({ replica: "up", reads: before });
  });

  it("without a replica (DATABASE_READ_URL unset or the primary's), reads the primary and has nothing to wait for", async () => {
    const reads = createReadDb({ primary, primaryUrl: pair.primaryUrl, readUrl: pair.primaryUrl, log: silentLogger() });
    opened.push(reads);
    const id = await mark();
    expect(await reads.read(has(id))).toBe(id);
    expect(await reads.barrier()).toBeUndefined();
    expect(reads.status()).toEqual({ replica: "none", reads: { replica: 0, primary: 1 } });
  });
});
