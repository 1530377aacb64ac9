import type { HostPort } from "@usage/core";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";

/** A connection to the service's Redis: one node, or a Redis Cluster. Every module takes this type. */
export type RedisConnection = Redis | Cluster;

/** Where Redis is: the one place that decides between one node and a cluster reads this. */
export interface RedisTarget {
  redisUrl: string;
  redisClusterNodes: readonly HostPort[] | undefined;
}

export type RedisRole =
  /** Request-path commands: fail at once while disconnected so the caller can fall back. */
  | "command"
  /** BullMQ workers: block and retry for as long as it takes. */
  | "blocking"
  /** Pub/sub listeners: like blocking; on a cluster, one sharded subscriber per primary. */
  | "subscriber";

/** What a caller may tune; the rest follows from the role. */
export type RedisTuning = Pick<RedisOptions, "enableAutoPipelining">;

// Capped, jittered reconnect so a fleet does not stampede a recovering Redis.
const reconnectDelay = (attempt: number): number => Math.min(2_000, 50 * 2 ** Math.min(attempt, 6)) + Math.floor(Math.random() * 100);

/** Per-connection options of a role (a node's, or each node's of a cluster). */
const nodeOptions = (role: RedisRole) =>
  ({
    connectTimeout: 2_000,
    maxRetriesPerRequest: role === "command" ? 1 : null,
    // A request never waits on a Redis that stopped answering (a cut network sends no RST).
    // A command cut off by a disconnect is not sent again on reconnect: its caller already
    // took the fallback path, and a counting script run twice would count twice.
    ...(role === "command" ? { commandTimeout: 2_000, autoResendUnfulfilledCommands: false } : {}),
  }) satisfies RedisOptions;

export const isCluster = (redis: RedisConnection): redis is Cluster => redis instanceof Cluster;

/**
 * The one place that chooses one node (`REDIS_URL`) or a cluster (`REDIS_CLUSTER_NODES`), with
 * the same semantics per role on both.
 */
export const createRedis = (target: RedisTarget, role: RedisRole, tuning: RedisTuning = {}): RedisConnection => {
  const enableAutoPipelining = tuning.enableAutoPipelining ?? role === "command";
  const enableOfflineQueue = role !== "command";
  let redis: RedisConnection;
  if (target.redisClusterNodes === undefined) {
    redis = new Redis(target.redisUrl, {
      lazyConnect: false,
      enableAutoPipelining,
      enableOfflineQueue,
      retryStrategy: reconnectDelay,
      ...nodeOptions(role),
    });
  } else {
    const options: ClusterOptions = {
      enableAutoPipelining,
      enableOfflineQueue,
      redisOptions: nodeOptions(role),
      clusterRetryStrategy: reconnectDelay,
      // No clusterNodeRetryStrategy: a node connection that drops ends, failing its commands
      // into the cluster's own retry (waiting roles) or the caller's fallback (command role).
      // A node connection that reconnects instead keeps its queued commands, and when the
      // slots move away from the dead node ioredis drops that connection without failing them:
      // they never settle (a worker's shard consumer stopped for good). The next slots refresh
      // (every 2 s) opens connections to the nodes that serve slots again.
      // The command role never sends a command again after its connection dropped or while
      // the cluster is down (a failover): it fails, and the caller falls back, as on one node.
      // The waiting roles retry such a command every 200 ms for up to about 13 s (64 tries;
      // ioredis counts every retry as a redirection): a failover takes 2-3 s.
      ...(role === "command"
        ? { retryDelayOnFailover: 0, retryDelayOnClusterDown: 0 }
        : { retryDelayOnFailover: 200, retryDelayOnClusterDown: 200, maxRedirections: 64 }),
      shardedSubscribers: role === "subscriber",
      // A promoted replica is found within a second or two even without a MOVED to learn from.
      slotsRefreshInterval: 2_000,
    };
    const cluster = new Cluster(
      target.redisClusterNodes.map(({ host, port }) => ({ host, port })),
      options,
    );
    // Node connections are opened eagerly: a lazy one that is still connecting would refuse
    // the command role's first burst of commands (no offline queue) and send it to the spool.
    cluster.on("+node", (node: Redis) => {
      if (node.status === "wait") void node.connect().catch(() => {});
    });
    redis = cluster;
  }
  // Connection errors surface through commands and readiness; without a listener they crash.
  redis.on("error", () => {});
  return redis;
};

/**
 * The first ready (on a cluster: of the cluster and of every primary's connection); rejects
 * after `timeoutMs` so a start never hangs on a dead Redis.
 */
export const waitReady = async (redis: RedisConnection, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  await firstReady(redis, timeoutMs);
  while (isCluster(redis) && redis.nodes("master").some((node) => node.status !== "ready")) {
    if (Date.now() > deadline) throw new Error(`redis cluster primaries not ready after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

const firstReady = async (redis: RedisConnection, timeoutMs: number): Promise<void> => {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      reject(new Error(`redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once("ready", onReady);
  });
};
