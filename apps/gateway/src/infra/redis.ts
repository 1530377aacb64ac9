import type { GatewayConfig } from "@usage/core";
import {
  type Counters,
  createCounters,
  createKeys,
  createRedis,
  durabilityRisks,
  type Keys,
  type RedisConnection,
  waitReady,
} from "@usage/store";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

declare module "fastify" {
  interface FastifyInstance {
    redis: RedisConnection;
    keys: Keys;
    counters: Counters;
  }
}

/** One fail-fast, auto-pipelined connection for every request-path command. */
export const redisPlugin = fp(
  async (app: FastifyInstance, { config }: { config: GatewayConfig }) => {
    const redis = createRedis(config, "command");
    // Start degraded rather than not at all: ingest falls back while Redis is away.
    await waitReady(redis).catch((error: unknown) => app.log.warn({ err: error }, "redis not reachable at start"));
    if (redis.status === "ready") {
      for (const risk of await durabilityRisks(redis)) app.log.warn({ risk }, "redis can lose queued hits (see infra/README.md)");
    }
    const keys = createKeys(config.redisPrefix);
    app.decorate<RedisConnection>("redis", redis);
    app.decorate("keys", keys);
    app.decorate("counters", createCounters(redis, keys));
    app.addHook("onClose", async () => {
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: "redis" },
);
