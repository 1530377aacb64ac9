import { randomUUID } from "node:crypto";
import {
  type AppProcess,
  call,
  createTestEnv,
  type PrivateRedis,
  spawnApp,
  spawnGateway,
  startPrivateRedis,
  startTcpProxy,
  type TcpProxy,
  type TestEnv,
} from "@usage/testkit";
import type { DriverClient } from "./driver.ts";

/**
 * The system under fault: a private Redis with AOF (fsync always), Postgres and Redis each
 * behind a TCP proxy the suite can cut, and gateway and worker as real processes.
 */
export class Cluster {
  env!: TestEnv;
  redis!: PrivateRedis;
  redisProxy!: TcpProxy;
  pgProxy!: TcpProxy;
  gateway!: AppProcess;
  worker!: Omit<AppProcess, "base">;
  #settings: Record<string, string> = {};

  async start(): Promise<void> {
    this.redis = await startPrivateRedis({ aof: true, appendfsync: "always" });
    this.redisProxy = await startTcpProxy(this.redis.port);
    this.env = await createTestEnv({ REDIS_URL: this.redis.url, RATE_LIMIT_PER_HOUR: "10000000", LOG_LEVEL: "error" });
    const pgPort = Number(new URL(this.env.config.databaseUrl).port || 5432);
    this.pgProxy = await startTcpProxy(pgPort);
    const pgUrl = new URL(this.env.config.databaseUrl);
    pgUrl.port = String(this.pgProxy.port);
    this.#settings = { ...this.env.env, REDIS_URL: this.redisProxy.url("redis"), DATABASE_URL: pgUrl.toString() };
    this.gateway = await spawnGateway(this.#settings);
    this.startWorker();
  }

  startWorker(): void {
    this.worker = spawnApp("apps/worker/src/main.ts", this.#settings);
  }

  async killWorker(): Promise<void> {
    this.worker.child.kill("SIGKILL");
    await this.worker.exited;
  }

  async restartGateway(): Promise<void> {
    this.gateway.child.kill("SIGKILL");
    await this.gateway.exited;
    this.gateway = await spawnGateway(this.#settings);
  }

  async registerClients(count: number): Promise<DriverClient[]> {
    const clients: DriverClient[] = [];
    for (let i = 0; i < count; i++) {
      const { body } = await call(this.gateway.base, "POST", "/api/register", { name: `fault-${i}`, email: `${randomUUID()}@example.com` });
      clients.push({ id: body.client_id as string, key: body.api_key as string });
    }
    return clients;
  }

  async stop(): Promise<void> {
    this.redisProxy?.restore();
    this.pgProxy?.restore();
    for (const app of [this.gateway, this.worker]) app?.child.kill("SIGTERM");
    await Promise.all([this.gateway?.exited, this.worker?.exited]);
    await this.env?.cleanup().catch(() => {});
    await this.redisProxy?.close();
    await this.pgProxy?.close();
    await this.redis?.stop();
  }
}
