import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PrivatePgReplica, pgQuery, startPgReplica, waitForReplay } from "../src/pg-replica.ts";

/** The test harness's private primary and streaming replica: what the read-replica tests stand on. */
describe("private primary + streaming replica", () => {
  let pair: PrivatePgReplica;
  beforeAll(async () => {
    pair = await startPgReplica();
  });
  afterAll(async () => pair?.stop());

  const count = async (url: string): Promise<number> =>
    Number((await pgQuery<{ n: string }>(url, "SELECT count(*) AS n FROM replicated"))[0]?.n);

  it("streams: a row written on the primary is read on the replica, which refuses writes", async () => {
    const [standby] = await pgQuery<{ recovering: boolean }>(pair.replicaUrl, "SELECT pg_is_in_recovery() AS recovering");
    expect(standby?.recovering).toBe(true);
    await pgQuery(pair.primaryUrl, "CREATE TABLE replicated (x int)");
    await pgQuery(pair.primaryUrl, "INSERT INTO replicated VALUES (1)");
    await waitForReplay(pair.primaryUrl, pair.replicaUrl);
    expect(await pgQuery(pair.replicaUrl, "SELECT x FROM replicated")).toEqual([{ x: 1 }]);
    await expect(pgQuery(pair.replicaUrl, "INSERT INTO replicated VALUES (2)")).rejects.toThrow(/read-only/);
  });

  it("pauses replay: the replica answers with what it had until resumed", async () => {
    await pair.pauseReplay();
    await pgQuery(pair.primaryUrl, "INSERT INTO replicated VALUES (2)");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await count(pair.replicaUrl)).toBe(1);
    await pair.resumeReplay();
    await waitForReplay(pair.primaryUrl, pair.replicaUrl);
    expect(await count(pair.replicaUrl)).toBe(2);
  });

  it("kills the replica (connections refused) and starts it again, streaming what it missed", async () => {
    await pair.killReplica();
    await expect(pgQuery(pair.replicaUrl, "SELECT 1")).rejects.toThrow(/ECONNREFUSED/);
    await pgQuery(pair.primaryUrl, "INSERT INTO replicated VALUES (3)");
    await pair.startReplica();
    await waitForReplay(pair.primaryUrl, pair.replicaUrl);
    expect(await count(pair.replicaUrl)).toBe(3);
  });
});
