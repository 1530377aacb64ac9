import {
  type ClusterNode,
  createTemplate,
  createTestEnv,
  type PrivatePgReplica,
  type PrivateRedisCluster,
  startPgReplica,
  startPrivateRedisCluster,
} from "@usage/testkit";
import { pause } from "./scenario.ts";
import { System } from "./system.ts";

export interface Failover {
  /** From the SIGKILL until the cluster names another primary for the node's slots. */
  failoverMs: number;
  /** From the restart until the node is a synced replica and every node agrees (waitHealthy). */
  rejoinMs: number;
}

/**
 * Two gateways and a worker on a private 6-node Redis Cluster and a private Postgres
 * primary with a streaming replica, which the gateways read through (DATABASE_READ_URL).
 */
export class RedisClusterSystem extends System {
  redis: PrivateRedisCluster | undefined;
  pg: PrivatePgReplica | undefined;

  async start(): Promise<void> {
    const [redis, pg] = await Promise.allSettled([startPrivateRedisCluster(), startPgReplica()]);
    if (redis.status === "fulfilled") this.redis = redis.value;
    if (pg.status === "fulfilled") this.pg = pg.value;
    // Both kept before either failure is thrown, so that stop() ends the one that did start.
    if (redis.status === "rejected") throw redis.reason;
    if (pg.status === "rejected") throw pg.reason;
    const servers = { primary: pg.value.primaryUrl, replica: pg.value.replicaUrl };
    const template = await createTemplate(servers.primary);
    this.env = await createTestEnv(
      { REDIS_CLUSTER_NODES: redis.value.seeds, RATE_LIMIT_PER_HOUR: "10000000", LOG_LEVEL: "error" },
      { pg: servers, template },
    );
    await this.launch(this.env.env, 2);
  }

  /**
   * A primary crashes (SIGKILL): its replica takes over, then the node is started again on
   * its own files and rejoins as a replica of the one that took its slots.
   */
  async crashPrimary(node: ClusterNode): Promise<Failover> {
    const redis = this.#redis();
    const killedAt = Date.now();
    await redis.kill(node);
    for (;;) {
      const primaries = await redis.primaries().catch((): ClusterNode[] => []);
      if (primaries.length === 3 && !primaries.includes(node)) break;
      if (Date.now() - killedAt > 30_000) throw new Error(`no replica took over from ${node.address} within 30 s`);
      await pause(50);
    }
    const failoverMs = Date.now() - killedAt;
    const restartedAt = Date.now();
    await redis.restart(node);
    return { failoverMs, rejoinMs: Date.now() - restartedAt };
  }

  #redis(): PrivateRedisCluster {
    if (this.redis === undefined) throw new Error("the Redis Cluster is not started");
    return this.redis;
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.redis?.stop();
    await this.pg?.stop();
  }
}
