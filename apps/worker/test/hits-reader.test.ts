import { createTestEnv, type TestEnv } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openHitsReader } from "../src/exports/hits-reader.ts";

/**
 * The export's read connection is set for a long sort that must leave room for live hits:
 * its own work_mem, UTC, and no parallel workers (a parallel sort takes the cores the
 * worker's inserts need: on 2 cores, ingest during an export went from 0.70 to 0.80 of its
 * rate without one).
 */
describe("the export's hits reader", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => env?.cleanup());

  it("reads with the export's session settings", async () => {
    const reader = await openHitsReader(env.workerConfig.databaseUrl, env.db);
    try {
      const setting = (name: string) =>
        reader.count({
          text: "SELECT CASE WHEN current_setting($1) = $2 THEN 1 ELSE 0 END AS n",
          values: [name, expected[name] as string],
        });
      const expected: Record<string, string> = { max_parallel_workers_per_gather: "0", work_mem: "64MB", TimeZone: "UTC" };
      for (const name of Object.keys(expected)) expect(await setting(name), name).toBe(1);
    } finally {
      await reader.close();
    }
  });
});
