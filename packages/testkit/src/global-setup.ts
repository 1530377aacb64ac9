import { createDb, ensureDatabase, migrateToLatest } from "@usage/db";
import type { TestProject } from "vitest/node";
import { databaseUrl, TEST_DATABASE_URL, uniqueSuffix } from "./env.ts";
import { adminQuery } from "./pg-admin.ts";
import { setupTestRedis } from "./redis-cluster-mode.ts";
import "./provided.ts";

/** Migrates one template database per run; every test file clones it (a cheap file copy). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const template = `usage_tpl_${uniqueSuffix()}`;
  await ensureDatabase(databaseUrl(template));
  const db = createDb(databaseUrl(template), { max: 1 });
  await migrateToLatest(db);
  await db.destroy();
  project.provide("templateDatabase", template);
  const stopTestRedis = await setupTestRedis(project);
  return async () => {
    await stopTestRedis();
    await adminQuery(TEST_DATABASE_URL, `DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
  };
}
