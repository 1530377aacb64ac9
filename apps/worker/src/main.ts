import { createLogger, loadWorkerConfigOrExit } from "@usage/core";
import { startWorker } from "./runtime.ts";

const SHUTDOWN_TIMEOUT_MS = 30_000;

const config = loadWorkerConfigOrExit();
const log = createLogger("worker", config.logLevel);
const runtime = await startWorker(config, log).catch((error: unknown) => {
  log.fatal({ err: error }, "worker failed to start");
  process.exit(1);
});

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "worker stopping");
  setTimeout(() => {
    log.error("worker did not stop in time, exiting");
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS).unref();
  // The in-flight batch finishes (its transaction commits or rolls back whole) before exit.
  void runtime.close().then(() => {
    log.info("worker stopped");
    process.exit(0);
  });
};
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
