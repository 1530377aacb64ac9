import { randomUUID } from "node:crypto";
import { appendFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toWireHit, type WireHit } from "@usage/contract";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Spool, SpoolFullError } from "../src/ingest/spool.ts";

const hit = (): WireHit =>
  toWireHit({
    clientId: randomUUID(),
    id: randomUUID(),
    ts: Date.now(),
    receivedAt: Date.now(),
    ip: "192.0.2.1",
    method: "GET",
    status: 200,
    endpoint: "/s",
  });

describe("spool", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "spool-test-"));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it("groups concurrent appends into one segment and reads them back after rotation", async () => {
    let synced = 0;
    const spool = new Spool(dir, 1024 * 1024, (n) => (synced += n));
    const records = Array.from({ length: 20 }, (_, i) => ({ counted: i % 2 === 0, hits: [hit(), hit()] }));
    await Promise.all(records.map((r) => spool.append(r)));
    expect(synced).toBe(40);
    // Not replayable while this process still writes it.
    expect(await spool.replayable()).toEqual([]);
    await spool.rotate();
    const [segment] = await spool.replayable();
    expect(segment).toMatch(/^ready-/);
    const read = await spool.read(segment as string);
    expect(read).toHaveLength(20);
    expect(read.flatMap((r) => r.hits).sort()).toEqual(records.flatMap((r) => r.hits).sort());
    expect(read.filter((r) => r.counted)).toHaveLength(10);
    await spool.remove(segment as string);
    expect(spool.bytes).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses an append past its size bound instead of dropping anything", async () => {
    const spool = new Spool(dir, 600);
    await spool.append({ counted: false, hits: [hit(), hit()] });
    await expect(spool.append({ counted: false, hits: [hit(), hit(), hit()] })).rejects.toBeInstanceOf(SpoolFullError);
    await spool.rotate();
    const [segment] = await spool.replayable();
    expect(await spool.read(segment as string)).toHaveLength(1);
  });

  it("skips a torn last line (a crash mid-write) and keeps the synced records", async () => {
    const spool = new Spool(dir, 1024 * 1024);
    await spool.append({ counted: true, hits: [hit()] });
    await spool.rotate();
    const [segment] = await spool.replayable();
    await appendFile(join(dir, segment as string), '[1,[["torn');
    expect(await spool.read(segment as string)).toHaveLength(1);
  });

  it("replays what a dead process left active, and what an earlier run sealed", async () => {
    await appendFile(join(dir, "active-999999-abc123-1.jsonl"), `${JSON.stringify([0, [hit()]])}\n`);
    await appendFile(join(dir, `active-${process.ppid}-def456-7.jsonl`), `${JSON.stringify([0, [hit()]])}\n`);
    // An earlier run of a process that got this very pid (a restarted container's pid 1).
    await appendFile(join(dir, `active-${process.pid}-0a0b0c-3.jsonl`), `${JSON.stringify([0, [hit()]])}\n`);
    const spool = new Spool(dir, 1024 * 1024);
    await spool.init();
    expect(spool.bytes).toBeGreaterThan(0);
    // A dead process's segment and an old run with our pid are replayable; a live process's is not.
    expect((await spool.replayable()).sort()).toEqual([`active-${process.pid}-0a0b0c-3.jsonl`, "active-999999-abc123-1.jsonl"].sort());
    // This run's own active segment is not replayable until it is sealed.
    await spool.append({ counted: true, hits: [hit()] });
    expect(await spool.replayable()).toHaveLength(2);
    await spool.rotate();
    expect(await spool.replayable()).toHaveLength(3);
  });

  it("counts its segment files: those left behind, the one it opens, and none once removed", async () => {
    await appendFile(join(dir, "ready-1-abc123-1.jsonl"), `${JSON.stringify([1, [hit()]])}\n`);
    const spool = new Spool(dir, 1024 * 1024);
    await spool.init();
    expect(spool.segments).toBe(1);
    await spool.append({ counted: true, hits: [hit()] });
    await spool.append({ counted: true, hits: [hit()] });
    expect(spool.segments).toBe(2);
    // Sealing renames, it does not add a file.
    await spool.rotate();
    expect(spool.segments).toBe(2);
    for (const name of await spool.replayable()) await spool.remove(name);
    expect(spool.segments).toBe(0);
    expect(spool.bytes).toBe(0);
  });
});
