import { execFile } from "node:child_process";
import { createTestEnv, type TestEnv } from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const seed = (env: Record<string, string>, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, ["scripts/seed.ts", ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? 1), stdout, stderr }),
    );
  });

describe("pnpm seed", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => env.cleanup());

  it("inserts the rows it was asked for, with rollups equal to the raw hits, and says how fast", async () => {
    const run = await seed(env.env, ["--rows", "20k", "--clients", "50", "--days", "10", "--chunk", "5000"]);
    expect(run.code, run.stderr).toBe(0);
    expect(`${run.stdout}${run.stderr}`).toMatch(/inserted 20,000 hits .* rows\/s/);
    const { rows } = await sql<{ raw: number; mismatches: number }>`
      SELECT (SELECT count(*)::int FROM hits) AS raw,
             (SELECT count(*)::int FROM (
                SELECT client_id, (ts AT TIME ZONE 'UTC')::date AS day, count(*) AS total FROM hits GROUP BY 1, 2
              ) r FULL JOIN usage_daily u USING (client_id, day) WHERE r.total IS DISTINCT FROM u.total) AS mismatches`.execute(env.db);
    expect(rows[0]).toEqual({ raw: 20_000, mismatches: 0 });
  });

  it("refuses a bad option with one line and exit code 2", async () => {
    const run = await seed(env.env, ["--rows", "lots"]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });
});
