import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { type AppProcess, call, spawnGateway, spawnWorker, stopApps, type TestEnv } from "@usage/testkit";
import type { DriverClient } from "./driver.ts";

/**
 * Gateways and a worker as real processes (SIGKILL is a real crash), all on one test env.
 * A subclass brings the Redis and Postgres they run against and the faults it can strike.
 */
export abstract class System {
  env!: TestEnv;
  gateways: AppProcess[] = [];
  worker: Omit<AppProcess, "base"> | undefined;
  #settings: Record<string, string> = {};

  abstract start(): Promise<void>;

  /** The first gateway: where clients register. */
  get gateway(): AppProcess {
    const [first] = this.gateways;
    if (first === undefined) throw new Error("no gateway started");
    return first;
  }

  /** Every gateway's base URL, for a load spread over them (a restarted gateway's new one included). */
  bases(): string[] {
    return this.gateways.map((gateway) => gateway.base);
  }

  protected async launch(settings: Record<string, string>, gateways = 1): Promise<void> {
    this.#settings = settings;
    // One at a time: each start compiles the gateway, and the two cores are shared.
    for (let i = 0; i < gateways; i++) this.gateways.push(await spawnGateway(this.#gatewaySettings(i)));
    this.startWorker();
  }

  /** Each gateway its own spool (two sharing one would replay each other's files), inside the env's, which cleanup removes. */
  #gatewaySettings(index: number): Record<string, string> {
    return { ...this.#settings, SPOOL_DIR: join(this.env.config.spoolDir, `gateway-${index}`) };
  }

  startWorker(): void {
    this.worker = spawnWorker(this.#settings);
  }

  async killWorker(): Promise<void> {
    this.worker?.child.kill("SIGKILL");
    await this.worker?.exited;
  }

  async restartGateway(index = 0): Promise<void> {
    const gateway = this.gateways[index];
    if (gateway === undefined) throw new Error(`no gateway ${index}`);
    gateway.child.kill("SIGKILL");
    await gateway.exited;
    this.gateways[index] = await spawnGateway(this.#gatewaySettings(index));
  }

  async registerClients(count: number): Promise<DriverClient[]> {
    const clients: DriverClient[] = [];
    for (let i = 0; i < count; i++) {
      const { body } = await call(this.gateway.base, "POST", "/api/register", { name: `fault-${i}`, email: `${randomUUID()}@example.com` });
      clients.push({ id: body.client_id as string, key: body.api_key as string });
    }
    return clients;
  }

  /** Ends the processes and the test env; a subclass stops its servers after this. */
  async stop(): Promise<void> {
    await stopApps(...this.gateways, this.worker);
    // Bounded: its Redis connection waits for a node that a failed test may have left down.
    await Promise.race([this.env?.cleanup().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
  }
}
