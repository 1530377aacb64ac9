import { spawn } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { freePort } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageClient, type UsageError } from "../src/index.ts";
import { hit } from "./helpers.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapAfterGc = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

describe("a gateway that is down: nothing listening", () => {
  let base: string;
  beforeAll(async () => {
    base = `http://127.0.0.1:${await freePort()}`;
  });

  it("holds at most maxQueueSize hits, drops and reports the rest, and its memory stays flat", async () => {
    const errors: UsageError[] = [];
    const usage = new UsageClient({
      baseUrl: base,
      apiKey: "uk_test_key",
      flushAt: 100,
      maxQueueSize: 2000,
      maxRetries: 1000,
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 20_000; i++) usage.track(hit());
    await new Promise((resolve) => setTimeout(resolve, 100));
    const heapBefore = heapAfterGc();
    for (let i = 0; i < 400_000; i++) usage.track(hit());
    await new Promise((resolve) => setTimeout(resolve, 100));
    const heapAfter = heapAfterGc();

    const stats = usage.stats();
    expect(stats.queued + stats.inFlight).toBe(2000);
    expect(stats.sent).toBe(0);
    expect(stats.dropped).toBe(418_000);
    // Dropped hits are reported in bursts: counts exact, ids capped.
    const full = errors.filter((e) => e.code === "QUEUE_FULL");
    expect(full.reduce((sum, e) => sum + e.count, 0)).toBe(418_000);
    for (const error of full) expect(error.eventIds.length).toBeLessThanOrEqual(1000);
    expect(errors.some((e) => e.code === "NETWORK_ERROR" && e.outcome === "retrying")).toBe(true);
    // 400,000 more hits tracked and dropped: the heap did not grow with them.
    expect(heapAfter - heapBefore).toBeLessThan(4 * 1024 * 1024);

    const started = Date.now();
    expect(await usage.shutdown({ timeoutMs: 300 })).toEqual({ sent: 0, rejected: 0, dropped: 2000 });
    // The deadline, not the retries (maxRetries 1000, backoff up to 30 s), ends it.
    expect(Date.now() - started).toBeLessThan(3000);
    expect(usage.stats()).toMatchObject({ queued: 0, inFlight: 0, dropped: 420_000 });
  });

  it("drops a batch after maxRetries and reports it", async () => {
    const errors: UsageError[] = [];
    const usage = new UsageClient({ baseUrl: base, apiKey: "uk_test_key", maxRetries: 2, onError: (e) => errors.push(e) });
    const ids = [usage.track(hit()), usage.track(hit())];
    expect(await usage.flush({ timeoutMs: 10_000 })).toEqual({ sent: 0, rejected: 0, dropped: 2 });
    expect(errors.filter((e) => e.outcome === "retrying")).toHaveLength(2);
    const exhausted = errors.filter((e) => e.code === "RETRIES_EXHAUSTED");
    expect(exhausted).toHaveLength(1);
    expect(exhausted[0]?.eventIds).toEqual(ids);
    await usage.shutdown();
  });
});

describe("the process's life", () => {
  const SDK = new URL("../src/index.ts", import.meta.url).pathname;
  /** Runs a module as its own process (the project's Node strips the types); resolves with its exit code and duration. */
  const runScript = (code: string): Promise<{ code: number | null; ms: number }> =>
    new Promise((resolve) => {
      const started = Date.now();
      const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "ignore", "inherit"] });
      child.once("exit", (exitCode) => resolve({ code: exitCode, ms: Date.now() - started }));
    });

  it("timers never keep it alive: a script that tracks against a dead server and never shuts down exits at once", async () => {
    const { code, ms } = await runScript(`
      import { UsageClient } from ${JSON.stringify(SDK)};
      const usage = new UsageClient({ baseUrl: "http://127.0.0.1:${await freePort()}", apiKey: "uk_test", flushAt: 10, flushIntervalMs: 60000, onError: () => {} });
      for (let i = 0; i < 25; i++) usage.track({ endpoint: "/a", ip: "192.0.2.1" });
    `);
    expect(code).toBe(0);
    // Not the 60 s flush interval, nor a retry's backoff: only the time to start a process.
    expect(ms).toBeLessThan(10_000);
  });

  it("flush() keeps it alive until it resolves, at its deadline at the latest", async () => {
    const { code, ms } = await runScript(`
      import { UsageClient } from ${JSON.stringify(SDK)};
      const usage = new UsageClient({ baseUrl: "http://127.0.0.1:${await freePort()}", apiKey: "uk_test", maxRetries: 1000, onError: () => {} });
      usage.track({ endpoint: "/a", ip: "192.0.2.1" });
      const result = await usage.flush({ timeoutMs: 1500 });
      if (result.dropped !== 1) process.exit(3);
    `);
    expect(code).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(1500);
    expect(ms).toBeLessThan(12_000);
  });
});

describe("a server that accepts connections and never answers", () => {
  let server: Server;
  let base: string;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it("shutdown() resolves at its deadline, drops what is held and reports it; later hits are dropped", async () => {
    const errors: UsageError[] = [];
    const usage = new UsageClient({ baseUrl: base, apiKey: "uk_test_key", flushAt: 5, timeoutMs: 60_000, onError: (e) => errors.push(e) });
    for (let i = 0; i < 12; i++) usage.track(hit());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(usage.stats()).toMatchObject({ queued: 2, inFlight: 10 });

    const started = Date.now();
    const result = await usage.shutdown({ timeoutMs: 400 });
    const took = Date.now() - started;
    expect(result).toEqual({ sent: 0, rejected: 0, dropped: 12 });
    expect(took).toBeGreaterThanOrEqual(390);
    // Requests time out after 60 s: only the deadline can have ended it (with room for a busy machine).
    expect(took).toBeLessThan(5000);
    expect(errors.find((e) => e.code === "DEADLINE")).toMatchObject({ outcome: "dropped", count: 12 });
    expect(await usage.shutdown()).toBe(result);

    const late = usage.track(hit());
    expect(errors.at(-1)).toMatchObject({ code: "SHUT_DOWN", outcome: "dropped", eventIds: [late] });
    expect(usage.stats()).toMatchObject({ queued: 0, inFlight: 0, sent: 0, dropped: 13 });
  });

  it("flush() is bounded by its deadline too, and the client goes on afterwards", async () => {
    const usage = new UsageClient({ baseUrl: base, apiKey: "uk_test_key", timeoutMs: 60_000, onError: () => {} });
    usage.track(hit());
    const started = Date.now();
    expect(await usage.flush({ timeoutMs: 200 })).toEqual({ sent: 0, rejected: 0, dropped: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(5000);
    usage.track(hit());
    expect(usage.stats()).toMatchObject({ queued: 1, dropped: 1 });
    await usage.shutdown({ timeoutMs: 100 });
  });

  it("shutdown() ends a stream still waiting for its token", async () => {
    const usage = new UsageClient({ baseUrl: base, apiKey: "uk_test_key", timeoutMs: 60_000, onError: () => {} });
    const pending = usage.stream().next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await usage.shutdown({ timeoutMs: 100 });
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("a request that outlives timeoutMs is retried", async () => {
    const errors: UsageError[] = [];
    const usage = new UsageClient({ baseUrl: base, apiKey: "uk_test_key", timeoutMs: 100, maxRetries: 1, onError: (e) => errors.push(e) });
    usage.track(hit());
    expect(await usage.flush({ timeoutMs: 5000 })).toEqual({ sent: 0, rejected: 0, dropped: 1 });
    expect(errors.map((e) => e.code)).toEqual(["TIMEOUT", "RETRIES_EXHAUSTED"]);
    expect(usage.stats().retried).toBe(1);
    await usage.shutdown();
  });
});
