import { createTestEnv, type PrivateRedis, startPrivateRedis, startTcpProxy, type TcpProxy } from "@usage/testkit";
import { System } from "./system.ts";

/**
 * One gateway and a worker on a private Redis with AOF (fsync always), Postgres and Redis
 * each behind a TCP proxy the suite can cut.
 */
export class ProxiedSystem extends System {
  redis!: PrivateRedis;
  redisProxy!: TcpProxy;
  pgProxy!: TcpProxy;

  async start(): Promise<void> {
    this.redis = await startPrivateRedis({ aof: true, appendfsync: "always" });
    this.redisProxy = await startTcpProxy(this.redis.port);
    this.env = await createTestEnv({ REDIS_URL: this.redis.url, RATE_LIMIT_PER_HOUR: "10000000", LOG_LEVEL: "error" });
    const pgPort = Number(new URL(this.env.config.databaseUrl).port || 5432);
    this.pgProxy = await startTcpProxy(pgPort);
    const pgUrl = new URL(this.env.config.databaseUrl);
    pgUrl.port = String(this.pgProxy.port);
    await this.launch({ ...this.env.env, REDIS_URL: this.redisProxy.url("redis"), DATABASE_URL: pgUrl.toString() });
  }

  override async stop(): Promise<void> {
    // Restored first, so the processes' shutdown is not stuck behind a cut.
    this.redisProxy?.restore();
    this.pgProxy?.restore();
    await super.stop();
    await this.redisProxy?.close();
    await this.pgProxy?.close();
    await this.redis?.stop();
  }
}
