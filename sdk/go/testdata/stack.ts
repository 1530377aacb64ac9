/**
 * The Go SDK's test stack: a private database (created and migrated), a gateway and a worker
 * from this repository, driven by the Go tests over stdin/stdout, one JSON object a line.
 *
 *   node sdk/go/testdata/stack.ts        (from the repository root, Node 24)
 *
 * Settings come from the environment (DATABASE_URL, REDIS_URL, RATE_LIMIT_PER_HOUR, ...);
 * each process gets a database and a Redis prefix of its own. It answers one line per
 * command, in order:
 *
 *   {"cmd":"kill-gateway"}                  SIGKILL the main gateway, wait for its exit
 *   {"cmd":"start-gateway"}                 start it again on the same port
 *   {"cmd":"spawn-gateway","env":{...}}     another gateway (same database and prefix) on a free port
 *   {"cmd":"sql","text":"...","params":[]}  rows of one statement on the private database
 *
 * When stdin ends (the Go test finished, or died), every process it started is stopped and
 * the database, the Redis keys and the spool are removed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createPool } from "@usage/db";
import { createRedis, unlinkPrefix } from "@usage/store";

/** The settings this script reads itself; the rest pass through to the apps. */
const setting = (name: "DATABASE_URL" | "REDIS_URL" | "STACK_LOG_LEVEL"): string | undefined => process.env[name];

const suffix = `${Date.now().toString(36)}_${process.pid}`;
const baseDatabaseUrl = setting("DATABASE_URL") ?? "postgres://127.0.0.1:5432/postgres";
const redisUrl = setting("REDIS_URL") ?? "redis://127.0.0.1:6379";
const database = `usage_sdkgo_${suffix}`;
const databaseUrl = (name: string): string => {
  const url = new URL(baseDatabaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  NODE_ENV: "test",
  LOG_LEVEL: setting("STACK_LOG_LEVEL") ?? "error",
  DATABASE_URL: databaseUrl(database),
  REDIS_URL: redisUrl,
  REDIS_PREFIX: `sdkgo_${suffix}`,
  WORKER_METRICS_PORT: "0",
  SPOOL_DIR: join(tmpdir(), `usage-sdkgo-spool-${suffix}`),
};

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no free port"))));
    });
  });

const children = new Set<ChildProcess>();
const run = (script: string, extra: Record<string, string> = {}): ChildProcess => {
  const child = spawn(process.execPath, [script], { env: { ...env, ...extra }, stdio: ["ignore", "ignore", "inherit"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
};
const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()));

const waitHealthy = async (base: string, child: ChildProcess): Promise<void> => {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gateway on ${base} not healthy after 30 s`);
};

const startGateway = async (port: number, extra: Record<string, string> = {}): Promise<ChildProcess> => {
  const child = run("apps/gateway/src/server.ts", { ...extra, PORT: String(port) });
  await waitHealthy(`http://127.0.0.1:${port}`, child);
  return child;
};

const migrate = (): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["packages/db/src/migrate-cli.ts"], { env, stdio: ["ignore", "ignore", "inherit"] });
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`migration exited with ${code}`))));
  });

const reply = (message: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

let cleaning: Promise<void> | undefined;
const cleanup = (): Promise<void> => {
  cleaning ??= (async () => {
    for (const child of children) child.kill("SIGTERM");
    const stopped = Promise.all([...children].map(exited));
    const timer = setTimeout(() => {
      for (const child of children) child.kill("SIGKILL");
    }, 10_000);
    await stopped;
    clearTimeout(timer);
    await pool.end().catch(() => {});
    const admin = createPool(databaseUrl("postgres"), { max: 1 });
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch((error: unknown) => {
      process.stderr.write(`stack: could not drop ${database}: ${String(error)}\n`);
    });
    await admin.end();
    const redis = createRedis({ redisUrl, redisClusterNodes: undefined }, "blocking");
    await unlinkPrefix(redis, `${env.REDIS_PREFIX}:`);
    redis.disconnect();
    await rm(env.SPOOL_DIR as string, { recursive: true, force: true });
  })();
  return cleaning;
};

await migrate();
const pool = createPool(env.DATABASE_URL as string, { max: 2, applicationName: "sdk-go-stack" });
const port = await freePort();
const worker = run("apps/worker/src/main.ts");
let gateway = await startGateway(port);
reply({ ok: true, base: `http://127.0.0.1:${port}`, database, prefix: env.REDIS_PREFIX, worker: worker.pid });

const commands = createInterface({ input: process.stdin });
const handle = async (line: string): Promise<Record<string, unknown>> => {
  const command = JSON.parse(line) as { cmd: string; env?: Record<string, string>; text?: string; params?: unknown[] };
  switch (command.cmd) {
    case "kill-gateway":
      gateway.kill("SIGKILL");
      await exited(gateway);
      return { ok: true };
    case "start-gateway":
      gateway = await startGateway(port);
      return { ok: true, base: `http://127.0.0.1:${port}` };
    case "spawn-gateway": {
      const other = await freePort();
      await startGateway(other, command.env ?? {});
      return { ok: true, base: `http://127.0.0.1:${other}` };
    }
    case "sql":
      return { ok: true, rows: (await pool.query(command.text ?? "", command.params ?? [])).rows };
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
};
// One command at a time, answered in order.
let queue = Promise.resolve();
commands.on("line", (line) => {
  queue = queue.then(async () => {
    try {
      reply(await handle(line));
    } catch (error) {
      reply({ ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  });
});
commands.once("close", () => {
  void queue.then(cleanup).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`stack: cleanup failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void cleanup().then(() => process.exit(0)));
