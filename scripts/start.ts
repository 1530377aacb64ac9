import { type ChildProcess, spawn } from "node:child_process";

/**
 * `pnpm start`: applies pending migrations, then runs the gateway and one worker in the
 * foreground. SIGINT or SIGTERM is passed to both, which stop gracefully; if either dies,
 * the other is stopped too and the exit code says so.
 */
/** A bounded heap keeps each process inside its memory budget (256 MB RSS) under load. */
const NODE_FLAGS = ["--max-old-space-size=128", "--max-semi-space-size=16"];
/**
 * Two glibc malloc arenas instead of one per thread: with one per thread, freed native
 * memory stays scattered and the worker's resident set crept (docs/benchmarks.md#memory-the-heap-flags).
 */
const ENV = { MALLOC_ARENA_MAX: "2", ...process.env };

const run = (name: string, script: string): ChildProcess =>
  spawn(process.execPath, [...NODE_FLAGS, script, ...process.argv.slice(2)], { stdio: "inherit", env: ENV }).on("error", (error) => {
    process.stderr.write(`${name}: ${error.message}\n`);
  });

const waitExit = (child: ChildProcess): Promise<number> =>
  new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128))));

const migrate = await waitExit(run("migrate", "packages/db/src/migrate-cli.ts"));
if (migrate !== 0) process.exit(migrate);

const children = [run("gateway", "apps/gateway/src/server.ts"), run("worker", "apps/worker/src/main.ts")];
let stopping = false;
const stopAll = (signal: NodeJS.Signals): void => {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
};
process.on("SIGINT", () => stopAll("SIGTERM"));
process.on("SIGTERM", () => stopAll("SIGTERM"));

const codes = await Promise.all(
  children.map(async (child) => {
    const code = await waitExit(child);
    if (!stopping) stopAll("SIGTERM");
    return code;
  }),
);
process.exit(codes.find((code) => code !== 0) ?? 0);
