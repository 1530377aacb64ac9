import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePort } from "./redis-server.ts";

/** How long `stop` lets the nodes shut down on their own before it kills them. */
const STOP_GRACE_MS = 3_000;

const run = promisify(execFile);

export interface ClusterNode {
  /** host:port, as the cluster and REDIS_CLUSTER_NODES name it. */
  address: string;
  port: number;
  dir: string;
}

export interface PrivateRedisCluster {
  nodes: readonly ClusterNode[];
  /** Every node as `host:port,…`: the value of REDIS_CLUSTER_NODES. */
  seeds: string;
  /** The nodes serving slots now (failed ones left out). */
  primaries(): Promise<ClusterNode[]>;
  /** The node that serves `slot` now. */
  primaryOf(slot: number): Promise<ClusterNode>;
  /** SIGKILL, like a crash: its replica takes over after cluster-node-timeout. */
  kill(node: ClusterNode): Promise<void>;
  /** Starts a killed node again on its own data; it rejoins (a replica of whoever took its slots). */
  restart(node: ClusterNode): Promise<void>;
  /** Resolves once every running node says cluster_state:ok and agrees on who serves each slot. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const NODES = 6;

/** One short-lived connection to one node, for the harness' own questions. */
const ask = async (port: number, ...args: string[]): Promise<string> => {
  const redis = new Redis({ port, host: HOST, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return String(await redis.call(args[0] as string, ...args.slice(1)));
  } finally {
    redis.disconnect();
  }
};

const until = async (check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis cluster: timed out waiting for ${what}`);
};

/** CLUSTER NODES of one node: id, address, flags, and the slot ranges of primaries. */
const clusterNodes = async (port: number) =>
  (await ask(port, "CLUSTER", "NODES"))
    .trim()
    .split("\n")
    .map((line) => {
      const [id = "", addr = "", flags = "", , , , , link = "", ...slots] = line.split(" ");
      return { id, address: addr.split("@")[0] as string, flags: flags.split(","), connected: link === "connected", slots };
    });

/**
 * A Redis Cluster of the test's own: 6 nodes (3 primaries, 3 replicas) on free ports, never
 * the shared servers. AOF with `appendfsync everysec`: acknowledged writes are protected by
 * the replica that WAIT confirmed, not by the fsync, and a SIGKILLed process loses nothing it
 * wrote (the kernel still holds it); `always` would make 6 nodes on 2 shared cores fsync on
 * every write for no stronger test. `cluster-node-timeout 1000` lets a replica take over
 * about 2 s after its primary dies.
 */
export const startPrivateRedisCluster = async (): Promise<PrivateRedisCluster> => {
  const root = await mkdtemp(join(tmpdir(), "usage-redis-cluster-"));
  const nodes: ClusterNode[] = [];
  const children = new Map<ClusterNode, ChildProcess>();
  const busPorts = new Map<ClusterNode, number>();
  for (let i = 0; i < NODES; i++) {
    const port = await freePort();
    const node = { address: `${HOST}:${port}`, port, dir: join(root, String(port)) };
    await mkdir(node.dir);
    busPorts.set(node, await freePort());
    nodes.push(node);
  }

  const spawnNode = async (node: ClusterNode): Promise<void> => {
    const args = [
      ...["--port", String(node.port), "--bind", HOST, "--dir", node.dir],
      ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000"],
      ...["--cluster-port", String(busPorts.get(node))],
      ...["--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction"],
    ];
    const child = spawn("redis-server", args, { stdio: "ignore" });
    children.set(node, child);
    await until(async () => (await ask(node.port, "PING")) === "PONG", 10_000, `node ${node.address} to start`);
  };
  const exited = (node: ClusterNode): Promise<void> =>
    new Promise((resolve) => {
      const child = children.get(node);
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
  const running = (): ClusterNode[] => nodes.filter((node) => children.get(node)?.exitCode === null && !children.get(node)?.signalCode);

  const waitHealthy = async (timeoutMs = 20_000): Promise<void> => {
    await until(
      async () => {
        const views = await Promise.all(
          running().map(async (node) => ({
            info: await ask(node.port, "CLUSTER", "INFO"),
            primaries: (await clusterNodes(node.port))
              .filter((n) => n.flags.includes("master") && !n.flags.includes("fail") && n.slots.length > 0)
              .map((n) => `${n.address}=${n.slots.join(",")}`)
              .sort()
              .join(" "),
          })),
        );
        return views.every((view) => view.info.includes("cluster_state:ok") && view.primaries === views[0]?.primaries);
      },
      timeoutMs,
      "cluster_state:ok on every node",
    );
  };

  const primaries = async (): Promise<ClusterNode[]> => {
    const [first] = running();
    if (first === undefined) return [];
    const live = (await clusterNodes(first.port)).filter(
      (n) => n.flags.includes("master") && !n.flags.includes("fail") && n.slots.length > 0,
    );
    return nodes.filter((node) => live.some((n) => n.address === node.address));
  };

  const cluster: PrivateRedisCluster = {
    nodes,
    seeds: nodes.map((node) => node.address).join(","),
    primaries,
    async primaryOf(slot) {
      const [first] = running();
      if (first === undefined) throw new Error("redis cluster: no node runs");
      for (const n of await clusterNodes(first.port)) {
        if (!n.flags.includes("master") || n.flags.includes("fail")) continue;
        const serves = n.slots.some((range) => {
          const [from, to = from] = range.split("-").map(Number);
          return from !== undefined && to !== undefined && slot >= from && slot <= to;
        });
        const node = nodes.find((candidate) => candidate.address === n.address);
        if (serves && node !== undefined) return node;
      }
      throw new Error(`redis cluster: nobody serves slot ${slot}`);
    },
    async kill(node) {
      children.get(node)?.kill("SIGKILL");
      await exited(node);
    },
    async restart(node) {
      await spawnNode(node);
      // Back as a replica: it learns from the others that its slots moved, then syncs.
      await until(
        async () => {
          const info = await ask(node.port, "INFO", "replication");
          return info.includes("role:slave") && info.includes("master_link_status:up");
        },
        20_000,
        `${node.address} to rejoin as a replica`,
      );
      await waitHealthy();
    },
    waitHealthy,
    async stop() {
      for (const node of running()) children.get(node)?.kill("SIGTERM");
      // A primary on SIGTERM waits for its replica to catch up (shutdown-timeout); one that
      // lost it, or a node stuck mid-migration, is killed after a few seconds: its data goes anyway.
      const force = setTimeout(() => {
        for (const node of running()) children.get(node)?.kill("SIGKILL");
      }, STOP_GRACE_MS);
      await Promise.all(nodes.map(exited));
      clearTimeout(force);
      await rm(root, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all(nodes.map(spawnNode));
    await run("redis-cli", ["--cluster", "create", ...nodes.map((node) => node.address), "--cluster-replicas", "1", "--cluster-yes"]);
    await waitHealthy();
    // Every replica synced: a WAIT right after start counts them.
    await until(
      async () => {
        const infos = await Promise.all(nodes.map((node) => ask(node.port, "INFO", "replication")));
        return infos.filter((info) => info.includes("role:slave") && info.includes("master_link_status:up")).length === NODES / 2;
      },
      20_000,
      "every replica to sync",
    );
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
};
