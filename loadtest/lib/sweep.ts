import type { BenchEnv } from "./env.ts";
import { startProcess } from "./env.ts";
import { load } from "./load.ts";

export interface SweepRow {
  setting: string;
  requestsPerSec: number;
  p50: number;
  p99: number;
}

/** Group-commit settings to compare: the defaults, a fixed timer, and fewer or more slots. */
const SETTINGS: Array<Record<string, string>> = [
  { BATCH_LINGER_MS: "0", BATCH_MAX_IN_FLIGHT: "4" },
  { BATCH_LINGER_MS: "0", BATCH_MAX_IN_FLIGHT: "1" },
  { BATCH_LINGER_MS: "0", BATCH_MAX_IN_FLIGHT: "16" },
  { BATCH_LINGER_MS: "2", BATCH_MAX_IN_FLIGHT: "4" },
  { BATCH_LINGER_MS: "4", BATCH_MAX_IN_FLIGHT: "1" },
];

/** Single-hit ingest (50 connections) under each setting, on a fresh gateway each time. */
export const sweepGroupCommit = async (env: BenchEnv, keys: string[], body: () => string, durationS: number): Promise<SweepRow[]> => {
  const rows: SweepRow[] = [];
  for (const setting of SETTINGS) {
    const gateway = await startProcess(["apps/gateway/src/server.ts"], { ...env.settings, ...setting }, "/health", false);
    try {
      const run = await load({
        url: `${gateway.base}/api/logs`,
        variants: keys.map((key) => ({ body: body(), headers: { "x-api-key": key } })),
        durationS,
        title: `sweep ${JSON.stringify(setting)}`,
      });
      rows.push({
        setting: `linger ${setting.BATCH_LINGER_MS} ms, ${setting.BATCH_MAX_IN_FLIGHT} in flight`,
        requestsPerSec: run.requestsPerSec,
        p50: run.latencyP50,
        p99: run.latencyP99,
      });
    } finally {
      await gateway.stop();
    }
  }
  return rows;
};

export const sweepTable = (rows: SweepRow[]): string =>
  [
    "| group commit | req/s | p50 ms | p99 ms |",
    "|---|---:|---:|---:|",
    ...rows.map((r) => `| ${r.setting} | ${Math.round(r.requestsPerSec).toLocaleString("en-US")} | ${r.p50} | ${r.p99} |`),
  ].join("\n");
