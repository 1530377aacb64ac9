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

/** The test database's name: seed fills only the database it is told to, by name. */
const databaseOf = (env: TestEnv): string => new URL(env.config.databaseUrl).pathname.slice(1);

describe("pnpm seed", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => env.cleanup());

  const counts = async () => {
    const { rows } = await sql<{ clients: number; hits: number }>`
      SELECT (SELECT count(*)::int FROM clients) AS clients, (SELECT count(*)::int FROM hits) AS hits`.execute(env.db);
    return rows[0];
  };

  it("refuses to run without --database, writing nothing to DATABASE_URL's database", async () => {
    const run = await seed(env.env, ["--rows", "1k", "--clients", "5"]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/--database is required/);
    expect(await counts()).toEqual({ clients: 0, hits: 0 });
    expect(await env.redis.keys(`${env.config.redisPrefix}:*`)).toEqual([]);
  });

  it.each([["postgres"], ["usage;drop"], ["1abc"]])("refuses --database %s with one line and exit code 2", async (name) => {
    const run = await seed(env.env, ["--database", name, "--rows", "1k"]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/--database/);
  });

  it("inserts the rows it was asked for, with rollups equal to the raw hits, and says how fast", async () => {
    const target = ["--database", databaseOf(env), "--redis-prefix", env.config.redisPrefix];
    const run = await seed(env.env, [...target, "--rows", "20k", "--clients", "50", "--days", "10", "--chunk", "5000"]);
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
    const run = await seed(env.env, ["--database", databaseOf(env), "--rows", "lots"]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });
});
