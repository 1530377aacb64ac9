import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ADMIN_KEY, type AppProcess, createTestEnv, eventually, spawnGateway, spawnWorker, stopApps, type TestEnv } from "@usage/testkit";

export const BIN = fileURLToPath(new URL("../src/bin.ts", import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without the caller's own USAGE_* settings, so a developer's shell cannot leak in. */
const cleanEnv = (): NodeJS.ProcessEnv => {
  const { USAGE_URL: _url, USAGE_ADMIN_KEY: _key, ...rest } = process.env;
  return rest;
};

/** Starts usagectl as its own process, stdin a pipe (never a terminal); by default the source on the project's Node. */
export const start = (
  args: string[],
  env: Record<string, string> = {},
  { node = process.execPath, bin = BIN }: { node?: string; bin?: string } = {},
): ChildProcess & { done: Promise<Run> } => {
  const child = spawn(node, [bin, ...args], { env: { ...cleanEnv(), ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk;
  });
  const done = new Promise<Run>((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
  return Object.assign(child, { done });
};

/** Runs usagectl to its end with stdin closed at once. */
export const run = (args: string[], env: Record<string, string> = {}, how: Parameters<typeof start>[2] = {}): Promise<Run> => {
  const child = start(args, env, how);
  child.stdin?.end();
  return child.done;
};

/** For an assertion's message: what the process printed. */
export const printed = (result: Run): string => `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;

export interface System {
  env: TestEnv;
  gateway: AppProcess;
  /** USAGE_URL and USAGE_ADMIN_KEY for this gateway. */
  cli: Record<string, string>;
  startWorker(): void;
  stop(): Promise<void>;
}

/** A gateway (and, once started, a worker) as processes on this file's own database and Redis prefix. */
export const startSystem = async (overrides: Record<string, string> = {}): Promise<System> => {
  const env = await createTestEnv({ LOG_LEVEL: "warn", ...overrides });
  const gateway = await spawnGateway(env.env);
  await eventually(async () => ((await fetch(`${gateway.base}/health/ready`)).ok ? true : undefined), 20_000, "gateway ready");
  let worker: Omit<AppProcess, "base"> | undefined;
  return {
    env,
    gateway,
    cli: { USAGE_URL: gateway.base, USAGE_ADMIN_KEY: ADMIN_KEY },
    startWorker() {
      worker = spawnWorker(env.env);
    },
    async stop() {
      await stopApps(gateway, worker);
      await env.cleanup();
    },
  };
};

/** Waits until the process has printed `text` on stderr. */
export const stderrShows = (child: ChildProcess, text: string, timeoutMs = 10_000): Promise<void> =>
  new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no "${text}" on stderr within ${timeoutMs} ms: ${seen}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk;
      if (!seen.includes(text)) return;
      clearTimeout(timer);
      child.stderr?.off("data", onData);
      resolve();
    };
    child.stderr?.on("data", onData);
  });

/** The first line of stderr: a failure is reported in one line. */
export const errorLine = (result: Run): string => {
  const lines = result.stderr.trimEnd().split("\n");
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got:\n${result.stderr}`);
  return lines[0] as string;
};
