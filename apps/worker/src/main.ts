import { createLogger, loadWorkerConfigOrExit } from "@usage/core";
import { startWorker } from "./runtime.ts";

/**
 * The stop's hard limit: the drain below (≤ 10 s), then close (≤ 20 s when Redis is gone: a
 * graceful try, then one more after dropping the connections), with room to spare.
 * Orchestrators must wait longer than this before a SIGKILL (compose: stop_grace_period).
 */
const SHUTDOWN_TIMEOUT_MS = 40_000;
/**
 * On SIGTERM or SIGINT the worker first works off the hit queue, then stops. Under
 * `pnpm start` the gateway has exited by then (its batcher flushed into the queue), so no
 * accepted hit waits in Redis for the next start. A standalone worker does the same: it is
 * harmless (other workers share the queue; gateways still adding only make it wait) and
 * bounded by this.
 */
const DRAIN_TIMEOUT_MS = 10_000;

const config = loadWorkerConfigOrExit();
const log = createLogger("worker", config.logLevel);
const runtime = await startWorker(config, log).catch((error: unknown) => {
  log.fatal({ err: error }, "worker failed to start");
  process.exit(1);
});

let stopping = false;
const stop = async (signal: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "worker stopping");
  setTimeout(() => {
    log.error("worker did not stop in time, exiting");
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS).unref();
  if (!(await runtime.drain(DRAIN_TIMEOUT_MS))) log.warn({ drainTimeoutMs: DRAIN_TIMEOUT_MS }, "hit queue not empty at stop");
  // The in-flight batch finishes (its transaction commits or rolls back whole) before exit.
  await runtime.close();
  log.info("worker stopped");
  process.exit(0);
};
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
