import { int } from "./config-parsers.ts";
import { type Env, loadOrExit, settingReader } from "./config-reader.ts";
import { readHost, readSharedSettings, type SharedConfig } from "./config-shared.ts";

/**
 * Single hits arrive as many small jobs, and a statement has a fixed cost (Postgres took
 * 73–95 µs per hit in statements of about 30 hits, 31–34 µs in statements of about 130):
 * small statements spaced this far apart gather them. It delays such a statement by at most
 * this much, and a 202 not at all.
 */
export const DEFAULT_STATEMENT_SPACING_MS = 20;

/** The worker reads the shared settings and its own only: a bad gateway setting never stops it. */
export interface WorkerConfig extends SharedConfig {
  /** Where the metrics server binds. */
  host: string;
  workerConcurrency: number;
  /** The least time between the starts of two hit statements of one worker (0: none). */
  statementSpacingMs: number;
  /** 0: no metrics server. */
  workerMetricsPort: number;
  /** Exports run at once per worker, on a consumer of their own: hit jobs never wait for them. */
  exportConcurrency: number;
  /**
   * The export job's lock; stalls are checked every half of it, so the job of a killed worker
   * runs again within about 1.5 × this.
   */
  exportLockMs: number;
  /** An export's file is cut into chunks of about this many bytes (the memory an export holds). */
  exportChunkBytes: number;
  /** While hits are being stored, an export rests this share of its time (0: never), in percent. */
  exportYieldPercent: number;
}

/** Throws a ConfigError whose message is one line naming the setting. */
export const parseWorkerConfig = (env: Env): Readonly<WorkerConfig> => {
  const reader = settingReader(env);
  return Object.freeze({
    ...readSharedSettings(reader),
    host: readHost(reader),
    workerConcurrency: reader.read("WORKER_CONCURRENCY", int(1, 256), 32),
    statementSpacingMs: reader.read("WORKER_STATEMENT_SPACING_MS", int(0, 1000), DEFAULT_STATEMENT_SPACING_MS),
    workerMetricsPort: reader.read("WORKER_METRICS_PORT", int(0, 65535), 9464),
    exportConcurrency: reader.read("WORKER_EXPORT_CONCURRENCY", int(1, 16), 1),
    exportLockMs: reader.read("WORKER_EXPORT_LOCK_MS", int(1_000, 600_000), 10_000),
    exportChunkBytes: reader.read("WORKER_EXPORT_CHUNK_BYTES", int(4_096, 64 * 1_048_576), 1_048_576),
    exportYieldPercent: reader.read("WORKER_EXPORT_YIELD_PERCENT", int(0, 90), 50),
  });
};

/** The worker's entry point calls this: on a bad setting it prints one line and exits 1. */
export const loadWorkerConfigOrExit = (env: Env = process.env): Readonly<WorkerConfig> => loadOrExit(parseWorkerConfig, env);
