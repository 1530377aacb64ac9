import { randomUUID } from "node:crypto";
import { createPgExportStore, createPool, type Db, dbOnPool, type ExportChunk, type ExportStore } from "@usage/db";
import { createTestEnv, type TestEnv } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe("Postgres export store", () => {
  let env: TestEnv;
  let store: ExportStore;
  let db: Db;
  beforeAll(async () => {
    env = await createTestEnv();
    const pool = createPool(env.config.databaseUrl, { max: 2 });
    db = dbOnPool(pool);
    store = createPgExportStore(db, pool);
  });
  afterAll(async () => {
    await db?.destroy();
    await env?.cleanup();
  });

  const newExport = async (status = "running"): Promise<string> => {
    const exportId = randomUUID();
    await sql`INSERT INTO exports (export_id, owner, range_from, range_to, status)
      VALUES (${exportId}, 'admin', now() - interval '1 day', now(), ${status})`.execute(env.db);
    return exportId;
  };
  const chunk = (seq: number, text: string, ts = `2026-11-30T10:00:00.00000${seq}Z`): ExportChunk => ({
    seq,
    rows: text.split("\r\n").length - 1,
    last: { ts, clientId: randomUUID(), id: randomUUID() },
    data: Buffer.from(text),
  });
  const row = (exportId: string) => env.db.selectFrom("exports").selectAll().where("export_id", "=", exportId).executeTakeFirstOrThrow();

  it("starts an export at the beginning", async () => {
    expect(await store.resumePoint(await newExport())).toEqual({ nextSeq: 0, rows: 0, bytes: 0, last: undefined });
  });

  it("resumes after the last chunk, its key to the microsecond, with the rows and bytes committed", async () => {
    const exportId = await newExport();
    expect(await store.append(exportId, chunk(0, "a\r\nb\r\n"))).toBe(true);
    const last = chunk(1, "c\r\n", "2026-11-30T10:00:00.123457Z");
    expect(await store.append(exportId, last, { processed: 3, bytes: 9 })).toBe(true);
    expect(await store.resumePoint(exportId)).toEqual({ nextSeq: 2, rows: 3, bytes: 9, last: last.last });
    expect(await row(exportId)).toMatchObject({ processed: 3, bytes: 9 });
  });

  it("writes progress only when given, and never lowers it", async () => {
    const exportId = await newExport();
    await store.append(exportId, chunk(0, "a\r\n"), { processed: 5, bytes: 50 });
    await store.append(exportId, chunk(1, "b\r\n"));
    expect(await row(exportId)).toMatchObject({ processed: 5, bytes: 50 });
    await store.append(exportId, chunk(2, "c\r\n"), { processed: 3, bytes: 9 });
    expect(await row(exportId)).toMatchObject({ processed: 5, bytes: 50 });
  });

  it("refuses a chunk once the export is no longer running, writing nothing", async () => {
    const exportId = await newExport();
    await sql`UPDATE exports SET status = 'cancelled' WHERE export_id = ${exportId}`.execute(env.db);
    expect(await store.append(exportId, chunk(0, "a\r\n"), { processed: 1, bytes: 3 })).toBe(false);
    expect(await store.append(exportId, chunk(0, "a\r\n"))).toBe(false);
    expect(await store.resumePoint(exportId)).toMatchObject({ nextSeq: 0 });
    expect(await row(exportId)).toMatchObject({ processed: 0, bytes: 0 });
    expect(await store.append(randomUUID(), chunk(0, "a\r\n"))).toBe(false);
  });

  it("refuses a seq already stored (two runs of one export)", async () => {
    const exportId = await newExport();
    await store.append(exportId, chunk(0, "a\r\n"));
    await expect(store.append(exportId, chunk(0, "b\r\n"))).rejects.toThrow(/duplicate key/);
    // The failed chunk's connection went back to the pool usable, its transaction rolled back.
    for (let i = 0; i < 3; i++) expect(await store.append(exportId, chunk(1 + i, `${i}\r\n`))).toBe(true);
    expect(await store.resumePoint(exportId)).toMatchObject({ nextSeq: 4, rows: 4 });
  });

  it("stores a chunk's bytes exactly, every byte value and a timestamp before 2000 included", async () => {
    const exportId = await newExport();
    const data = Buffer.alloc(70_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 8)) % 256;
    const stored = { seq: 0, rows: 1, last: { ts: "1999-12-31T23:59:59.999999Z", clientId: randomUUID(), id: randomUUID() }, data };
    expect(await store.append(exportId, stored)).toBe(true);
    const parts: Buffer[] = [];
    for await (const part of store.read(exportId)) parts.push(part);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(await store.resumePoint(exportId)).toMatchObject({ last: stored.last, bytes: data.length });
  });

  it("reads the chunks back in order, then removes them", async () => {
    const exportId = await newExport();
    for (const seq of [0, 1, 2]) await store.append(exportId, chunk(seq, `${seq}\r\n`));
    const parts: string[] = [];
    for await (const data of store.read(exportId)) parts.push(data.toString());
    expect(parts).toEqual(["0\r\n", "1\r\n", "2\r\n"]);
    await store.remove(exportId);
    for await (const _ of store.read(exportId)) expect.unreachable("no chunk left");
  });
});
