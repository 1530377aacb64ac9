import { execFileSync } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "./helpers.ts";

const SDK = join(import.meta.dirname, "..");

/** The machine's own binary (pnpm puts the project's Node 24 first on PATH: skip the repo's folders). */
const systemBinary = (name: string): string => {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((dir) => dir !== "" && !dir.includes("node_modules"));
  for (const dir of [...dirs, "/usr/local/bin", "/usr/bin"]) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  throw new Error(`no system ${name} on PATH`);
};

const run = (command: string, args: string[], cwd: string, env: Record<string, string> = {}): string =>
  execFileSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 120_000,
  });

/** Links a package the monorepo has installed into the consumer (its own dependencies resolve beside it). */
const linkInto = (consumer: string, from: string, name: string): void => {
  const target = join(consumer, "node_modules", name);
  if (existsSync(target)) return;
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(realpathSync(join(from, "node_modules", name)), target);
};

const CONSUMER_SCRIPT = `
import { UsageClient } from "@usage/sdk";
import { usageFastify } from "@usage/sdk/fastify";
import { usageExpress } from "@usage/sdk/express";
import Fastify from "fastify";

const [baseUrl, apiKey] = process.argv.slice(2);
const usage = new UsageClient({ baseUrl, apiKey, flushAt: 50, onError: (error) => console.error(error.message) });
const ids = [];
for (let i = 0; i < 120; i++) ids.push(usage.track({ endpoint: "/node20", ip: "192.0.2.1", method: "GET", status: 200 }));
const flushed = await usage.flush();

const app = Fastify();
await app.register(usageFastify, { client: usage, apiKey: (request) => request.headers["x-api-key"] });
app.get("/orders/:id", async () => ({ ok: true }));
const answer = await app.inject({ method: "GET", url: "/orders/7", headers: { "x-api-key": apiKey } });
const middleware = usageExpress({ client: usage, apiKey: (req) => req.get("x-api-key") });

const events = usage.stream();
const first = await events.next();
const shutdown = await usage.shutdown();
console.log(JSON.stringify({
  node: process.version,
  globalWebSocket: typeof globalThis.WebSocket,
  flushed,
  shutdown,
  stats: usage.stats(),
  ids,
  fastifyStatus: answer.statusCode,
  expressMiddleware: typeof middleware,
  firstEvent: first.value?.type,
}));
`;

const CONSUMER_TYPES = `
import { UsageClient, UsageError, type RecordResult, type UsageEvent, type UsageStats } from "@usage/sdk";
import { usageExpress } from "@usage/sdk/express";
import { usageFastify } from "@usage/sdk/fastify";
import express from "express";
import Fastify from "fastify";

const usage = new UsageClient({
  baseUrl: "http://127.0.0.1:3000",
  apiKey: "uk_...",
  flushAt: 500,
  flushIntervalMs: 1000,
  maxQueueSize: 100_000,
  maxRetries: 10,
  timeoutMs: 10_000,
  maxBatchBytes: 512 * 1024,
  onError: (error: UsageError) => console.error(error.code, error.outcome, error.count),
});
const id: string = usage.track({ endpoint: "/v1/orders", ip: "203.0.113.7", method: "GET", status: 200 }, { apiKey: "uk_other" });
const stats: UsageStats = usage.stats();
const flushed: { sent: number; rejected: number; dropped: number } = await usage.flush({ timeoutMs: 5000 });
const recorded: RecordResult = await usage.record({ endpoint: "/v1/orders/:id", ip: "::1" }, { apiKey: "uk_other" });
const daily = await usage.daily({ limit: 10, cursor: "abc" });
const total: number | undefined = daily.data[0]?.days[6]?.total_requests;
const top = await usage.top({ limit: 3 });
for await (const event of usage.stream()) {
  const e: UsageEvent = event;
  if (event.type === "usage.updated") console.log(event.delta, e.type);
  break;
}
const app = Fastify();
await app.register(usageFastify, { client: usage, apiKey: (request) => request.headers["x-api-key"], enforce: false });
const server = express();
server.use(usageExpress({ client: usage, apiKey: (req) => req.get("x-api-key"), enforce: true }));
// @ts-expect-error: flushAt is a number
new UsageClient({ baseUrl: "http://x", flushAt: "500" });
console.log(id, stats.sent, flushed, recorded.accepted, total, top.window.from);
await usage.shutdown({ timeoutMs: 1000 });
`;

describe("the packed tarball, installed into an empty npm project", () => {
  let stack: Stack;
  let consumer: string;
  let node: string;
  let listing: string[];

  beforeAll(async () => {
    stack = await startStack({ RATE_LIMIT_PER_HOUR: "100000" });
    consumer = mkdtempSync(join(tmpdir(), "usage-sdk-consumer-"));
    node = systemBinary("node");
    // pnpm pack runs prepack: the package is built by tsc into dist/.
    const packDir = join(consumer, "pack");
    run("pnpm", ["pack", "--pack-destination", packDir], SDK);
    const tarball = join(packDir, readdirSync(packDir).find((name) => name.endsWith(".tgz")) as string);
    listing = run("tar", ["tzf", tarball], consumer).split("\n").filter(Boolean);
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "sdk-consumer", private: true, type: "module" }));
    // The machine's npm, with its Node first on PATH. No dependency: nothing to fetch, so --offline works.
    run(join(dirname(node), "npm"), ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], consumer, {
      PATH: `${dirname(node)}${delimiter}/usr/bin${delimiter}/bin`,
    });
  }, 180_000);
  afterAll(async () => {
    if (consumer !== undefined) rmSync(consumer, { recursive: true, force: true });
    await stack?.stop();
  });

  it("holds dist/, package.json and the README only, and installs with no dependency", () => {
    expect(listing).toEqual(
      expect.arrayContaining(["package/package.json", "package/README.md", "package/dist/index.js", "package/dist/index.d.ts"]),
    );
    expect(
      listing.filter((file) => !file.startsWith("package/dist/") && !/^package\/(package\.json|README\.md|LICENSE)$/.test(file)),
    ).toEqual([]);
    expect(readdirSync(join(consumer, "node_modules")).filter((name) => !name.startsWith("."))).toEqual(["@usage"]);
  });

  it("works on the machine's Node (20): all three entry points, tracking against a real gateway, stream() over ws (and without it, a clear error)", {
    timeout: 120_000,
  }, async () => {
    // Without a global WebSocket (Node 20) and without ws, stream() says what is missing.
    writeFileSync(
      join(consumer, "no-ws.mjs"),
      `import { UsageClient } from "@usage/sdk";
      if (typeof globalThis.WebSocket !== "undefined") { console.log("global WebSocket"); process.exit(0); }
      const usage = new UsageClient({ baseUrl: "http://127.0.0.1:9", apiKey: "uk_x" });
      await usage.stream().next().then(() => console.log("no error"), (error) => console.log(error.code));`,
    );
    expect(["UNSUPPORTED", "global WebSocket"]).toContain(run(node, ["no-ws.mjs"], consumer).trim());

    // What a user of the Fastify plugin and of stream() on Node 20 would have installed.
    linkInto(consumer, SDK, "fastify");
    linkInto(consumer, SDK, "ws");
    const { apiKey, clientId } = await stack.register("node 20");
    writeFileSync(join(consumer, "main.mjs"), CONSUMER_SCRIPT);
    const output = JSON.parse(run(node, ["main.mjs", stack.base, apiKey], consumer).trim().split("\n").at(-1) as string);
    expect(Number(/^v(\d+)/.exec(output.node)?.[1])).toBeGreaterThanOrEqual(20);
    expect(output).toMatchObject({
      flushed: { sent: 120, rejected: 0, dropped: 0 },
      shutdown: { sent: 1, rejected: 0, dropped: 0 },
      stats: { queued: 0, inFlight: 0, sent: 121, rejected: 0, dropped: 0 },
      fastifyStatus: 200,
      expressMiddleware: "function",
      firstEvent: "usage.snapshot",
    });
    expect(await stack.waitStored(clientId, 121)).toEqual({ rows: 121, ids: 121 });
  });

  it("the README's quick start runs as written on the machine's Node", { timeout: 60_000 }, () => {
    const readme = readFileSync(join(SDK, "README.md"), "utf8");
    const quickStart = /## Quick start[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(quickStart).toContain("new UsageClient");
    writeFileSync(join(consumer, "quick-start.mjs"), quickStart as string);
    const output = run(node, ["quick-start.mjs"], consumer, { USAGE_URL: stack.base });
    expect(output).toMatch(/^tracked [0-9a-f-]{36}$/m);
    expect(output).toContain("{ sent: 1, rejected: 0, dropped: 0 }");
  });

  it("its declarations type-check a consumer's code under strict nodenext, without skipLibCheck", { timeout: 120_000 }, () => {
    linkInto(consumer, SDK, "fastify");
    linkInto(consumer, SDK, "@types/node");
    linkInto(consumer, SDK, "@types/express");
    linkInto(consumer, SDK, "express");
    writeFileSync(join(consumer, "types.ts"), CONSUMER_TYPES);
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ["node"],
        },
        files: ["types.ts"],
      }),
    );
    const tsc = join(SDK, "node_modules/typescript/bin/tsc");
    expect(run(node, [tsc, "-p", "tsconfig.json"], consumer)).toBe("");
  });
});
