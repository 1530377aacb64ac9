import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no free port"))));
    });
  });

export interface PrivateRedis {
  port: number;
  url: string;
  dir: string;
  start(): Promise<void>;
  /** SIGKILL: no shutdown save, like a crash. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free port (never the shared one), optionally with
 * AOF so a restart keeps what was fsynced.
 */
export const startPrivateRedis = async (options: { aof?: boolean; appendfsync?: "always" | "everysec" } = {}): Promise<PrivateRedis> => {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "usage-redis-"));
  let child: ChildProcess | undefined;
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--maxmemory-policy", "noeviction"];
  if (options.aof) args.push("--appendonly", "yes", "--appendfsync", options.appendfsync ?? "always");
  else args.push("--appendonly", "no");

  const waitUp = async (): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => {});
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch {
        // not yet
      } finally {
        probe.disconnect();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`private redis on ${port} did not start`);
  };
  const exited = (): Promise<void> =>
    new Promise((resolve) => {
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });

  const server: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async start() {
      child = spawn("redis-server", args, { stdio: "ignore" });
      await waitUp();
    },
    async kill() {
      child?.kill("SIGKILL");
      await exited();
    },
    async stop() {
      child?.kill("SIGTERM");
      await exited();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
};
