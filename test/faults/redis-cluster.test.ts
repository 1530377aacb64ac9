import { ADMIN_KEY, call, eventually } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Failover, RedisClusterSystem } from "./cluster-system.ts";
import type { DriverClient } from "./driver.ts";
import { type Read, Reader } from "./reader.ts";
import { firstTimeShare, type ScenarioResult, writeReport } from "./report.ts";
import { expectExactlyOnce, pause, runScenario } from "./scenario.ts";

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** The figures a gateway's /metrics gives of its reads: is the replica in use, and who answered. */
const readMetrics = async (base: string) => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
  return {
    replicaUp: value(/^usage_read_replica_up (\d+)$/m),
    primaryReads: value(/^usage_db_reads_total\{server="primary"\} (\d+)$/m),
    replicaReads: value(/^usage_db_reads_total\{server="replica"\} (\d+)$/m),
  };
};

/**
 * The fault suite on a Redis Cluster (6 nodes, 3 primaries) and a Postgres primary with a
 * streaming replica, the load spread over two gateways. Same bar as the single-node suite:
 * every acknowledged hit stored exactly once, rollups equal to the raw rows, every request
 * acknowledged in the end. Besides:
 *
 * - "answered 202" counts requests (a single hit or a batch of 10), each once however often
 *   the driver retried it: requests whose first attempt was answered 202 ÷ requests made.
 *   A failover must leave it at 99 % or more (a hit whose add no replica confirmed is
 *   spooled and still answered 202; what is not is a 503 the client retries).
 * - With the Postgres replica killed, every read made through either gateway answers 200.
 */
describe("faults on a Redis Cluster, two gateways and a read replica", () => {
  const system = new RedisClusterSystem();
  const results: ScenarioResult[] = [];
  let clients: DriverClient[];

  beforeAll(async () => {
    await system.start();
    clients = await system.registerClients(4);
  }, 120_000);
  afterAll(async () => {
    try {
      writeReport("Redis Cluster, two gateways, read replica", results);
    } finally {
      await system.stop();
    }
    // A worker stopped with a shard still queued waits out its drain and close bounds (~40 s).
  }, 90_000);

  it("(A) each primary is killed with SIGKILL in turn and rejoins as a replica", async () => {
    const redis = system.redis;
    if (redis === undefined) throw new Error("no cluster");
    const killed = await redis.primaries();
    expect(killed).toHaveLength(3);
    const failovers: Failover[] = [];
    const result = await runScenario(system, clients, "Redis Cluster: each primary SIGKILL, restarted as a replica", async () => {
      for (const node of killed) {
        failovers.push(await system.crashPrimary(node));
        // Load on the healed cluster, its spools replaying, before the next kill.
        await pause(2_000);
      }
      const times = (pick: (f: Failover) => number) => failovers.map((f) => seconds(pick(f))).join(" / ");
      return `failover ${times((f) => f.failoverMs)} s; rejoined as a replica ${times((f) => f.rejoinMs)} s`;
    });
    results.push(result);
    // Every original primary now serves nothing: each was killed and came back a replica.
    expect((await redis.primaries()).filter((node) => killed.includes(node))).toEqual([]);
    expectExactlyOnce(result);
    expect(firstTimeShare(result), JSON.stringify(result)).toBeGreaterThanOrEqual(99);
  });

  it("(B) the Postgres replica is killed: reads through both gateways keep answering 200, from the primary", async () => {
    const pg = system.pg;
    if (pg === undefined) throw new Error("no Postgres pair");
    const token = async (key: string) => {
      const { status, body } = await call(system.gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": key });
      expect(status).toBe(200);
      return body.access_token as string;
    };
    const [first, second] = clients as [DriverClient, DriverClient];
    const admin = await token(ADMIN_KEY);
    const reads: Read[] = [
      { path: "/api/usage/daily", token: await token(first.key) },
      { path: `/api/clients/${second.id}`, token: await token(second.key) },
      { path: "/api/clients?limit=5", token: admin },
      { path: "/api/usage/top", token: admin },
    ];
    const reader = new Reader(() => system.bases(), reads);
    const everyGateway = (check: (metrics: Awaited<ReturnType<typeof readMetrics>>) => boolean, what: string, timeoutMs = 15_000) =>
      eventually(async () => ((await Promise.all(system.bases().map(readMetrics))).every(check) ? true : undefined), timeoutMs, what);
    let outage = { reads: 0, ok: 0, primaryReads: 0, replicaReads: 0, seconds: 0 };
    const result = await runScenario(system, clients, "Postgres read replica killed, then restarted", async () => {
      reader.start();
      try {
        await everyGateway((m) => m.replicaUp === 1, "every gateway to read from the replica");
        const [readsBefore, okBefore, killedAt] = [reader.reads, reader.ok, Date.now()];
        await pg.killReplica();
        await everyGateway((m) => m.replicaUp === 0, "every gateway to notice the replica down", 5_000);
        // Counted from here: reads that met the replica as it went belong to neither side.
        const before = await Promise.all(system.bases().map(readMetrics));
        await pause(5_000);
        const after = await Promise.all(system.bases().map(readMetrics));
        const [readsAfter, okAfter] = [reader.reads, reader.ok];
        const sum = (list: typeof after, pick: (m: (typeof after)[number]) => number) => list.reduce((total, m) => total + pick(m), 0);
        outage = {
          reads: readsAfter - readsBefore,
          ok: okAfter - okBefore,
          primaryReads: sum(after, (m) => m.primaryReads) - sum(before, (m) => m.primaryReads),
          replicaReads: sum(after, (m) => m.replicaReads) - sum(before, (m) => m.replicaReads),
          seconds: (Date.now() - killedAt) / 1000,
        };
        await pg.startReplica();
        await everyGateway((m) => m.replicaUp === 1, "every gateway to read from the replica again", 20_000);
      } finally {
        await reader.stop();
      }
      return `reads answered 200: ${reader.ok} / ${reader.reads}; replica down ${outage.seconds.toFixed(1)} s: ${outage.ok} / ${outage.reads} reads 200, Postgres reads on the primary ${outage.primaryReads}, on the replica ${outage.replicaReads}`;
    });
    results.push(result);
    expect(reader.failures()).toEqual({});
    expect(reader.ok).toBe(reader.reads);
    expect(outage.reads).toBeGreaterThan(50);
    // The reads of the outage went to Postgres through the primary, none through the dead replica.
    expect(outage.primaryReads).toBeGreaterThan(0);
    expect(outage.replicaReads).toBe(0);
    expectExactlyOnce(result);
  });
});
