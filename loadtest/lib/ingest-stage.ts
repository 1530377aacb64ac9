import type { Db } from "@usage/db";
import type { ExportJob, HitQueues } from "@usage/store";
import { call, eventually } from "@usage/testkit";
import type { Queue } from "bullmq";
import { sql } from "kysely";
import { createExport, exportState } from "./export-stages.ts";
import { load } from "./load.ts";

export interface IngestStage {
  gatewayBase: string;
  db: Db;
  hitQueues: HitQueues;
  exportQueue: Queue<ExportJob>;
  /** Unique per run: the registered clients' emails carry it. */
  tag: string;
  durationS: number;
  range: { from: string; to: string };
}

const BATCH = 100;
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

/**
 * Hits accepted per second (POST /api/logs/batch ×100, 10 connections) with no export, then
 * with an export of the whole seeded range running (started first, timed once it writes).
 * Each load is followed by a drained hit queue, so the next starts without a backlog. The
 * export is cancelled afterwards: only its effect on ingest is measured here.
 */
export const ingestBesideExport = async (stage: IngestStage): Promise<{ quiet: number; during: number; exportLine: string }> => {
  const { gatewayBase, db, hitQueues, exportQueue } = stage;
  const keys = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const body = { name: `export-bench-${i}`, email: `export-bench-${i}-${stage.tag}@example.com` };
      return (await call(gatewayBase, "POST", "/api/register", body)).body.api_key as string;
    }),
  );
  const hit = () => ({ ip: "203.0.113.7", endpoint: "/v1/things", timestamp: new Date().toISOString(), method: "GET", status: 200 });
  const variants = keys.map((key) => ({
    body: JSON.stringify({ hits: Array.from({ length: BATCH }, hit) }),
    headers: { "x-api-key": key },
  }));
  const ingest = async (title: string): Promise<number> => {
    const result = await load({ url: `${gatewayBase}/api/logs/batch`, variants, durationS: stage.durationS, connections: 10, title });
    await eventually(
      async () => (Object.values(await hitQueues.counts("waiting", "active", "delayed")).every((n) => n === 0) ? true : undefined),
      300_000,
      "hit queue drained",
    );
    return result.requestsPerSec * BATCH;
  };

  const quiet = await ingest("ingest, no export running");
  const exportId = await createExport(db, exportQueue, stage.range.from, stage.range.to);
  await eventually(async () => ((await exportState(db, exportId)).processed > 0 ? true : undefined), 300_000, "export writing");
  const during = await ingest("ingest while an export runs");
  const still = await exportState(db, exportId);
  const exportLine = `the export was ${still.status} at the end of the load (${fmt(still.processed)} of ${fmt(still.total ?? 0)} rows)`;
  await sql`UPDATE exports SET status = 'cancelled', finished_at = now() WHERE export_id = ${exportId} AND status = 'running'`.execute(db);
  await eventually(async () => ((await exportQueue.getJobCounts("active")).active === 0 ? true : undefined), 30_000, "export stopped");
  await sql`DELETE FROM exports WHERE export_id = ${exportId}`.execute(db);
  return { quiet, during, exportLine };
};
