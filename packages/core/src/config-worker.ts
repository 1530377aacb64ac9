import { int } from "./config-parsers.ts";
import { type Env, loadOrExit, settingReader } from "./config-reader.ts";
import { readHost, readSharedSettings, type SharedConfig } from "./config-shared.ts";

/** The worker reads the shared settings and its own only: a bad gateway setting never stops it. */
export interface WorkerConfig extends SharedConfig {
  /** Where the metrics server binds. */
  host: string;
  workerConcurrency: number;
  /** 0: no metrics server. */
  workerMetricsPort: number;
}

/** Throws a ConfigError whose message is one line naming the setting. */
export const parseWorkerConfig = (env: Env): Readonly<WorkerConfig> => {
  const reader = settingReader(env);
  return Object.freeze({
    ...readSharedSettings(reader),
    host: readHost(reader),
    workerConcurrency: reader.read("WORKER_CONCURRENCY", int(1, 256), 32),
    workerMetricsPort: reader.read("WORKER_METRICS_PORT", int(0, 65535), 9464),
  });
};

/** The worker's entry point calls this: on a bad setting it prints one line and exits 1. */
export const loadWorkerConfigOrExit = (env: Env = process.env): Readonly<WorkerConfig> => loadOrExit(parseWorkerConfig, env);
