import type { Logger } from "@usage/core";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { createReadCache } from "./read-cache.ts";
import { createTopList } from "./top-list.ts";
import { createUsageReads, type UsageReads } from "./usage-reads.ts";

declare module "fastify" {
  interface FastifyInstance {
    usageReads: UsageReads;
  }
}

/** Most active clients whose caches are filled at start. */
const WARM_CLIENTS = 200;

/** Usage reads (daily, top) behind the versioned cache, with the top list prefetched. */
export const usagePlugin = fp(
  async (app: FastifyInstance, { logger }: { logger: Logger }) => {
    const { redis, keys, counters, reads: rollups } = app;
    const directory = app.auth.directory;
    const cache = createReadCache(redis, (result, source) => app.metrics.cache.inc({ result, source }));
    const topList = createTopList({ redis, keys, counters, rollups, directory, cache, log: logger });
    const reads = createUsageReads({ keys, counters, rollups, directory, cache, topList });
    app.decorate("usageReads", reads);
    topList.startPrefetch();
    // Hot clients' keys, names and daily answers are cached before the first request needs them.
    app.addHook("onReady", async () => {
      await reads.warm(WARM_CLIENTS).catch((error: unknown) => logger.warn({ err: error }, "cache warm-up skipped"));
    });
    app.addHook("onClose", async () => topList.stop());
  },
  { name: "usage", dependencies: ["db", "redis", "metrics", "auth"] },
);
