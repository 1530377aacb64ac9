import type { TestProject } from "vitest/node";
import { adminQuery } from "./pg-admin.ts";
import { createTemplate, startTestPostgres } from "./pg-servers.ts";
import { setupTestRedis } from "./redis-cluster-mode.ts";
import "./provided.ts";

/** Migrates one template database per run; every test file clones it (a cheap file copy). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const pg = await startTestPostgres();
  const template = await createTemplate(pg.servers.primary).catch(async (error: unknown) => {
    await pg.stop();
    throw error;
  });
  project.provide("templateDatabase", template);
  project.provide("pgServers", pg.servers);
  const stopTestRedis = await setupTestRedis(project);
  return async () => {
    await stopTestRedis();
    await adminQuery(pg.servers.primary, `DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await pg.stop();
  };
}
