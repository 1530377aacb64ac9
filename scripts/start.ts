import { type ChildProcess, spawn } from "node:child_process";

/**
 * `pnpm start`: applies pending migrations, then runs the gateway and one worker in the
 * foreground. SIGINT, SIGTERM or SIGHUP stops them in order: the gateway first (it stops
 * taking hits and flushes its batcher into the queue); once it has exited, the worker,
 * which works off the queue before it stops, so no accepted hit waits for the next start.
 * If either dies, the other is stopped too and the exit code says so.
 */
/** A bounded heap keeps each process inside its memory budget (256 MB RSS) under load. */
const NODE_FLAGS = ["--max-old-space-size=128", "--max-semi-space-size=16"];
/**
 * Two glibc malloc arenas instead of one per thread: with one per thread, freed native
 * memory stays scattered and the worker's resident set crept (docs/benchmarks.md#memory-the-heap-flags).
 */
const ENV = { MALLOC_ARENA_MAX: "2", ...process.env };

interface Running {
  child: ChildProcess;
  /** The exit code (128 when killed by a signal); settles once, whenever it is awaited. */
  exit: Promise<number>;
}

/**
 * `detached` puts the process in a group (and session) of its own: Ctrl-C at a terminal
 * signals the whole foreground group, which would reach the gateway and the worker at once
 * and let the worker stop first. Only this script signals them, in order.
 */
const run = (name: string, script: string, detached: boolean): Running => {
  const child = spawn(process.execPath, [...NODE_FLAGS, script, ...process.argv.slice(2)], { stdio: "inherit", env: ENV, detached });
  const exit = new Promise<number>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
    child.once("error", (error) => {
      process.stderr.write(`${name}: ${error.message}\n`);
      resolve(1);
    });
  });
  return { child, exit };
};

const isRunning = ({ child }: Running): boolean => child.exitCode === null && child.signalCode === null;

// Not detached: a Ctrl-C during migrations stops them and this script together.
const migrate = await run("migrate", "packages/db/src/migrate-cli.ts", false).exit;
if (migrate !== 0) process.exit(migrate);

const gateway = run("gateway", "apps/gateway/src/server.ts", true);
const worker = run("worker", "apps/worker/src/main.ts", true);

// Detached children outlive this script unless told: if it exits any other way (an
// uncaught error), they get SIGTERM and stop gracefully on their own. A SIGKILL cannot be caught.
process.on("exit", () => {
  for (const app of [gateway, worker]) if (isRunning(app)) app.child.kill("SIGTERM");
});

let stopping: Promise<void> | undefined;
const stopInOrder = (): Promise<void> => {
  stopping ??= (async () => {
    if (isRunning(gateway)) gateway.child.kill("SIGTERM");
    await gateway.exit;
    if (isRunning(worker)) worker.child.kill("SIGTERM");
    await worker.exit;
  })();
  return stopping;
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stopInOrder());
// One of them died on its own: stop the other the same way.
for (const app of [gateway, worker]) void app.exit.then(stopInOrder);

const codes = await Promise.all([gateway.exit, worker.exit]);
process.exit(codes.find((code) => code !== 0) ?? 0);
