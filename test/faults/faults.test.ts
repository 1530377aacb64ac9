import { mkdirSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster.ts";
import { Driver, type DriverClient } from "./driver.ts";
import { type ScenarioResult, StorageWatch, table } from "./report.ts";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The fault suite: a steady SDK-like load while one fault at a time strikes; then the queue
 * drains and every acknowledged hit must be stored exactly once, with rollups equal to the
 * raw rows. Prints the figures and writes them to var/fault-report.md.
 */
describe("no acknowledged hit is lost", () => {
  const cluster = new Cluster();
  const results: ScenarioResult[] = [];
  let clients: DriverClient[];

  beforeAll(async () => {
    await cluster.start();
    clients = await cluster.registerClients(4);
  });
  afterAll(async () => {
    const report = table(results);
    process.stdout.write(`\n${report}\n\n`);
    mkdirSync("var", { recursive: true });
    writeFileSync("var/fault-report.md", `${report}\n`);
    await cluster.stop();
  });

  const scenario = async (name: string, fault: () => Promise<void>): Promise<ScenarioResult> => {
    const driver = new Driver(() => cluster.gateway.base, clients);
    const watch = new StorageWatch(cluster.env.db, driver.acked);
    driver.start();
    watch.start();
    await pause(2_000);
    await fault();
    await pause(2_000);
    await driver.stop();
    await watch.until(120_000);
    watch.stop();
    const retried = [...driver.errors.values()].reduce((sum, n) => sum + n, 0);
    const result = await watch.result(name, retried);
    results.push(result);
    return result;
  };

  const expectExactlyOnce = (result: ScenarioResult): void => {
    expect(result.acknowledged).toBeGreaterThan(100);
    expect(result, JSON.stringify(result)).toMatchObject({ lost: 0, duplicated: 0, rollupMismatches: 0 });
  };

  it("(1) the worker is killed with SIGKILL three times", async () => {
    expectExactlyOnce(
      await scenario("worker SIGKILL ×3", async () => {
        for (let i = 0; i < 3; i++) {
          await cluster.killWorker();
          await pause(1_000);
          cluster.startWorker();
          await pause(2_000);
        }
      }),
    );
  });

  it("(2) the gateway is killed with SIGKILL and restarted", async () => {
    expectExactlyOnce(await scenario("gateway SIGKILL + restart", () => cluster.restartGateway()));
  });

  it("(3) Redis is cut off for 10 s", async () => {
    expectExactlyOnce(
      await scenario("Redis cut 10 s", async () => {
        cluster.redisProxy.cut();
        await pause(10_000);
        cluster.redisProxy.restore();
      }),
    );
  });

  it("(4) Postgres is cut off for 30 s", async () => {
    expectExactlyOnce(
      await scenario("Postgres cut 30 s", async () => {
        cluster.pgProxy.cut();
        await pause(30_000);
        cluster.pgProxy.restore();
      }),
    );
  });

  it("(5) Redis is killed and restarted from its AOF", async () => {
    expectExactlyOnce(
      await scenario("Redis SIGKILL + restart (AOF)", async () => {
        await cluster.redis.kill();
        await pause(1_000);
        await cluster.redis.start();
      }),
    );
  });
});
