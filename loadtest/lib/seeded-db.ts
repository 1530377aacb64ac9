import { spawn } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { withDefaultUser } from "@usage/db";
import { adminQuery } from "@usage/testkit";
import pg from "pg";
import { describeMachine } from "./machine.ts";

/** What a seeded database holds: `rows` hits, all with `from` ≤ ts < `to` (later hits are outside). */
export interface Seeded {
  databaseUrl: string;
  rows: number;
  from: string;
  to: string;
  reused: boolean;
}

const note = (line: string): void => void process.stderr.write(`  ${line}\n`);

const urlOf = (database: string): string => {
  const url = new URL(process.env.DATABASE_URL ?? "postgres://127.0.0.1:5432/usage");
  url.pathname = `/${database}`;
  return url.toString();
};

/** One statement on the database; undefined when the database (or the marker table) is missing. */
const query = async <T extends object>(databaseUrl: string, text: string): Promise<T[] | undefined> => {
  const client = new pg.Client({ connectionString: withDefaultUser(databaseUrl) });
  try {
    await client.connect();
    return (await client.query<T>(text)).rows;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
};

const run = (args: string[], env: Record<string, string>): Promise<number | null> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "inherit", "inherit"] });
    child.once("exit", (code) => resolve(code));
  });

/**
 * A database with exactly `rows` seeded hits: the one of an earlier run if its marker says
 * so (reruns skip the seeding), else dropped and filled again by `pnpm seed`, whose progress
 * bar shows. The marker also keeps the seeded range, so hits ingested later (the bench's own
 * load, stamped now) stay out of the exported range.
 */
export const ensureSeeded = async (database: string, rows: number): Promise<Seeded> => {
  const databaseUrl = urlOf(database);
  const marker = await query<{ rows: number; from: string; to: string }>(
    databaseUrl,
    "SELECT rows::float8 AS rows, range_from::text AS from, range_to::text AS to FROM bench_seed",
  );
  const seeded = marker?.[0];
  if (seeded !== undefined && seeded.rows === rows) {
    note(`reusing database ${database}: ${rows.toLocaleString("en-US")} seeded hits from ${seeded.from} to ${seeded.to}`);
    return { databaseUrl, rows, from: seeded.from, to: seeded.to, reused: true };
  }
  note(`seeding database ${database} with ${rows.toLocaleString("en-US")} hits (pnpm seed; the next runs reuse it)`);
  await adminQuery(databaseUrl, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  const from = new Date(Date.now() - 31 * 86_400_000).toISOString();
  const server = new URL(databaseUrl);
  server.pathname = "/usage";
  const code = await run(["scripts/seed.ts", "--database", database, "--rows", String(rows), "--redis-prefix", `${database}_seed`], {
    DATABASE_URL: server.toString(),
  });
  if (code !== 0) throw new Error(`pnpm seed exited with ${code}`);
  const to = new Date(Date.now() + 1).toISOString();
  const counted = await query<{ n: number }>(databaseUrl, `SELECT count(*)::float8 AS n FROM hits WHERE ts >= '${from}' AND ts < '${to}'`);
  if (counted?.[0]?.n !== rows) throw new Error(`seeded ${counted?.[0]?.n} hits, expected ${rows}`);
  await query(
    databaseUrl,
    `CREATE TABLE bench_seed AS SELECT ${rows}::bigint AS rows, '${from}'::timestamptz AS range_from, '${to}'::timestamptz AS range_to`,
  );
  return { databaseUrl, rows, from, to, reused: false };
};

/** Appends one run to docs/benchmarks.md under "Exports" (the heading added on the first run). */
export const appendExportsSection = (command: string, body: string, doc = "docs/benchmarks.md"): void => {
  const heading = readFileSync(doc, "utf8").includes("\n## Exports\n") ? "" : "\n## Exports\n";
  appendFileSync(doc, `${heading}\n### ${new Date().toISOString().slice(0, 16)}Z: ${command}\n\nOn: ${describeMachine()}.\n\n${body}\n`);
  process.stderr.write(`\nappended to ${doc}\n`);
};
