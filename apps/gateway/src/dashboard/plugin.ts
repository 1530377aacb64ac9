import { stat } from "node:fs/promises";
import { join, sep } from "node:path";
import fastifyStatic from "@fastify/static";
import { AppError, type Logger } from "@usage/core";
import type { FastifyError, FastifyPluginAsync } from "fastify";
import { sendError } from "../http/errors.ts";
import { DASHBOARD_CSP, IMMUTABLE, REVALIDATE } from "./headers.ts";

export const DASHBOARD_PATH = "/dashboard";

export interface DashboardOptions {
  /** The dashboard's build output (`config.dashboardDir`): index.html and assets/. */
  dir: string;
  logger: Logger;
}

const notBuilt = (): AppError =>
  new AppError(
    "UNAVAILABLE",
    "the dashboard is not built: `pnpm install` builds it, or run `pnpm --filter @usage/dashboard build`, then reload",
  );

/**
 * GET /dashboard: the dashboard's built files, public (the page signs in through the API).
 * `/dashboard` and `/dashboard/` answer index.html; `/dashboard/*` the files of the build
 * directory, never a listing, a dotfile or anything outside it (404 in the contract's shape).
 * Whether the build exists is asked per request, so a gateway started before the build
 * serves it once it is there; until then /dashboard answers 503 saying how to build it.
 */
export const dashboardPlugin: FastifyPluginAsync<DashboardOptions> = async (app, { dir, logger }) => {
  const index = join(dir, "index.html");
  const assets = join(dir, "assets") + sep;
  const built = (): Promise<boolean> =>
    stat(index).then(
      (found) => found.isFile(),
      () => false,
    );
  if (!(await built()))
    logger.warn({ dir }, "dashboard not built: /dashboard answers 503 until it is (pnpm --filter @usage/dashboard build)");

  // Every answer under /dashboard, files and errors alike; helmet's other headers stay.
  app.addHook("onRequest", (_request, reply, done) => {
    reply.header("content-security-policy", DASHBOARD_CSP);
    done();
  });
  // @fastify/static refuses a path that would leave the directory (`..`, `//`) and a directory with 403: here nothing is forbidden, it is not there.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.statusCode === 403)
      return sendError(reply, new AppError("NOT_FOUND", `Route ${request.method}:${request.url.split("?")[0]} not found`));
    throw error;
  });
  app.setNotFoundHandler(async (request, reply) =>
    sendError(
      reply,
      (await built()) ? new AppError("NOT_FOUND", `Route ${request.method}:${request.url.split("?")[0]} not found`) : notBuilt(),
    ),
  );

  await app.register(fastifyStatic, {
    root: dir,
    prefix: "/",
    // The gateway starts without a build: the warning above says it once, in the gateway's log.
    suppressWarning: true,
    index: false,
    list: false,
    redirect: false,
    dotfiles: "ignore",
    cacheControl: false,
    setHeaders: (reply, path) => void reply.header("cache-control", path.startsWith(assets) ? IMMUTABLE : REVALIDATE),
  });

  // `/dashboard` and `/dashboard/` (Fastify registers both for a prefixed "/"); HEAD comes with GET.
  app.get("/", { schema: { hide: true } }, async (_request, reply) => {
    if (!(await built())) throw notBuilt();
    return reply.sendFile("index.html");
  });
};
