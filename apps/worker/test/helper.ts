import { randomUUID } from "node:crypto";
import { toWireHit, type WireHit } from "@usage/contract";
import { createHitQueues, createKeys, type HitBatchJob, type HitQueues } from "@usage/store";
import { createTestEnv, silentLogger, type TestEnv } from "@usage/testkit";
import type { Queue } from "bullmq";
import { sql } from "kysely";
import { startWorker, type WorkerRuntime } from "../src/runtime.ts";

export interface WorkerHarness extends TestEnv {
  /** Every shard of the hit queue, as the gateways produce into them. */
  queues: HitQueues;
  /** The first shard, for tests that place jobs themselves. */
  queue: Queue<HitBatchJob>;
  worker: WorkerRuntime;
  close(): Promise<void>;
}

/** A real worker on a private database, Redis prefix and queue. */
export const startTestWorker = async (overrides: Record<string, string> = {}): Promise<WorkerHarness> => {
  const env = await createTestEnv(overrides);
  const queues = createHitQueues(env.redis, createKeys(env.workerConfig.redisPrefix), env.workerConfig.hitQueueShards);
  const worker = await startWorker(env.workerConfig, silentLogger());
  return {
    ...env,
    queues,
    queue: queues.shards[0] as Queue<HitBatchJob>,
    worker,
    async close() {
      await worker.close();
      await queues.close();
      await env.cleanup();
    },
  };
};

export const clientId = (): string => randomUUID();

export const wireHit = (client: string, overrides: Partial<{ id: string; ts: number; ip: string; endpoint: string }> = {}): WireHit =>
  toWireHit({
    clientId: client,
    id: overrides.id ?? randomUUID(),
    ts: overrides.ts ?? Date.now(),
    receivedAt: Date.now(),
    ip: overrides.ip ?? "192.0.2.1",
    method: "GET",
    status: 200,
    endpoint: overrides.endpoint ?? "/v1/x",
  });

export const rawCount = async (env: TestEnv, client: string): Promise<number> => {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM hits WHERE client_id = ${client}`.execute(env.db);
  return rows[0]?.n ?? 0;
};

/** Rollup rows that disagree with a count of the raw hits (should always be none). */
export const rollupMismatches = async (env: TestEnv): Promise<number> => {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM (
      SELECT client_id, (ts AT TIME ZONE 'UTC')::date AS day, count(*) AS total FROM hits GROUP BY 1, 2
    ) raw FULL JOIN usage_daily u USING (client_id, day)
    WHERE raw.total IS DISTINCT FROM u.total`.execute(env.db);
  return rows[0]?.n ?? 0;
};
