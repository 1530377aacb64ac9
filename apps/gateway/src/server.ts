import { createLogger, loadGatewayConfigOrExit } from "@usage/core";
import { buildApp } from "./app.ts";

const SHUTDOWN_TIMEOUT_MS = 15_000;

const config = loadGatewayConfigOrExit();
const logger = createLogger("gateway", config.logLevel);
const app = await buildApp(config, { logger });
app.server.keepAliveTimeout = 65_000;
app.server.headersTimeout = 66_000;
app.server.requestTimeout = 30_000;

let stopping = false;
const stop = async (signal: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "gateway stopping");
  const timer = setTimeout(() => {
    logger.error("gateway did not stop in time, exiting");
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS).unref();
  // close(): stop accepting, finish in-flight requests, flush the batcher, close connections.
  await app.close();
  clearTimeout(timer);
  logger.info("gateway stopped");
  process.exit(0);
};
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));

try {
  await app.listen({ port: config.port, host: config.host });
} catch (error) {
  logger.fatal({ err: error }, "gateway failed to start");
  process.exit(1);
}
