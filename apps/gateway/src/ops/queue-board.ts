import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import type { HTTPStatus } from "@bull-board/api/typings/app";
import { FastifyAdapter } from "@bull-board/fastify";
import { AppError, type GatewayConfig, type Logger } from "@usage/core";
import { closeAfterStart, createMaintenanceQueue, createRedis } from "@usage/store";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import { errorBody, sendError, toAppError } from "../http/errors.ts";
import { BOARD_PATH, boardGuard } from "./board-auth.ts";

export { BOARD_PATH };

/**
 * Bull Board at /admin/queues (register with that prefix): the hit queue's shards, the
 * maintenance and export queues, for admins from the allowlist (board-auth.ts). Encapsulated, so its guard, its CSP
 * and Bull Board's own error handler, view engine and static files stay inside this path.
 */
export const queueBoardPlugin = async (app: FastifyInstance, { config, logger }: { config: GatewayConfig; logger: Logger }) => {
  // The board's reads and actions on the queue the gateway does not produce into, on a
  // fail-fast connection of its own: while Redis is away the board answers 503 at once. The
  // hit and export queues are the producers' (infra/queue.ts).
  const connection = createRedis(config, "command", { enableAutoPipelining: false });
  const maintenance = createMaintenanceQueue(connection, app.keys, (error, queue) =>
    logger.warn({ err: error, queue }, "board queue error"),
  );
  const queues: Queue[] = [...(app.hitQueues.shards as Queue[]), maintenance as Queue, app.exportQueue as Queue];

  const adapter = new FastifyAdapter();
  adapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: "Usage queues" } },
  });
  // A failure of a board call answers in the contract's shape, and never with a stack.
  adapter.setErrorHandler((error) => {
    const appError = toAppError(error);
    if (appError.code === "INTERNAL_ERROR") logger.error({ err: error }, "queue board request failed");
    // Bull Board's status type omits 503; its adapter passes any status through.
    return { status: appError.statusCode as HTTPStatus, body: errorBody(appError.statusCode, appError.code, appError.message) };
  });

  app.addHook("onRequest", boardGuard(app));
  // Paths under the board that are none of its routes are guarded too: a stranger learns nothing.
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new AppError("NOT_FOUND", `Route ${request.method}:${request.url.split("?")[0]} not found`)),
  );
  await app.register(adapter.registerPlugin());
  app.addHook("onClose", async () => {
    await closeAfterStart(maintenance).catch(() => {});
    await connection.quit().catch(() => connection.disconnect());
  });
};
