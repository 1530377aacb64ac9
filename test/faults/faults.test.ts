import { afterAll, beforeAll, describe, it } from "vitest";
import type { DriverClient } from "./driver.ts";
import { ProxiedSystem } from "./proxied-system.ts";
import { type ScenarioResult, writeReport } from "./report.ts";
import { expectExactlyOnce, pause, runScenario } from "./scenario.ts";

/**
 * The fault suite: a steady SDK-like load while one fault at a time strikes; then the queue
 * drains and every acknowledged hit must be stored exactly once, with rollups equal to the
 * raw rows. Prints the figures and writes them to var/fault-report.md.
 */
describe("no acknowledged hit is lost", () => {
  const system = new ProxiedSystem();
  const results: ScenarioResult[] = [];
  let clients: DriverClient[];

  beforeAll(async () => {
    await system.start();
    clients = await system.registerClients(4);
  });
  afterAll(async () => {
    try {
      writeReport("One Redis node, one gateway", results);
    } finally {
      await system.stop();
    }
  });

  const scenario = async (name: string, fault: () => Promise<void>) => {
    const result = await runScenario(system, clients, name, fault);
    results.push(result);
    return result;
  };

  it("(1) the worker is killed with SIGKILL three times", async () => {
    expectExactlyOnce(
      await scenario("worker SIGKILL ×3", async () => {
        for (let i = 0; i < 3; i++) {
          await system.killWorker();
          await pause(1_000);
          system.startWorker();
          await pause(2_000);
        }
      }),
    );
  });

  it("(2) the gateway is killed with SIGKILL and restarted", async () => {
    expectExactlyOnce(await scenario("gateway SIGKILL + restart", () => system.restartGateway()));
  });

  it("(3) Redis is cut off for 10 s", async () => {
    expectExactlyOnce(
      await scenario("Redis cut 10 s", async () => {
        system.redisProxy.cut();
        await pause(10_000);
        system.redisProxy.restore();
      }),
    );
  });

  it("(4) Postgres is cut off for 30 s", async () => {
    expectExactlyOnce(
      await scenario("Postgres cut 30 s", async () => {
        system.pgProxy.cut();
        await pause(30_000);
        system.pgProxy.restore();
      }),
    );
  });

  it("(5) Redis is killed and restarted from its AOF", async () => {
    expectExactlyOnce(
      await scenario("Redis SIGKILL + restart (AOF)", async () => {
        await system.redis.kill();
        await pause(1_000);
        await system.redis.start();
      }),
    );
  });
});
