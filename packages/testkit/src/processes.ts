import { type ChildProcess, spawn } from "node:child_process";
import { eventually } from "./harness.ts";
import { freePort } from "./redis-server.ts";

export interface AppProcess {
  child: ChildProcess;
  base: string;
  exited: Promise<number | null>;
  /** Everything the process wrote to stdout and stderr so far; empty unless spawned with `capture`. */
  output(): string;
}

export interface SpawnOptions {
  /** Keep stdout and stderr for `output()` (a test that reads the logs) instead of dropping stdout. */
  capture?: boolean;
}

/** Runs an app entry point as its own process with the given settings. */
export const spawnApp = (script: string, env: Record<string, string>, { capture = false }: SpawnOptions = {}): Omit<AppProcess, "base"> => {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ["ignore", capture ? "pipe" : "ignore", capture ? "pipe" : "inherit"],
  });
  const chunks: Buffer[] = [];
  child.stdout?.on("data", (chunk: Buffer) => chunks.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => chunks.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, output: () => Buffer.concat(chunks).toString("utf8") };
};

/** A gateway process on a free port, resolved once it answers /health. */
export const spawnGateway = async (env: Record<string, string>, options: SpawnOptions = {}): Promise<AppProcess> => {
  const port = await freePort();
  const app = spawnApp("apps/gateway/src/server.ts", { ...env, PORT: String(port) }, options);
  const base = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 20_000, `gateway on ${port}`);
  } catch (error) {
    // The caller never gets a handle on it: ended here, or it would outlive the test.
    app.child.kill("SIGKILL");
    await app.exited;
    throw error;
  }
  return { ...app, base };
};

export const spawnWorker = (env: Record<string, string>): Omit<AppProcess, "base"> => spawnApp("apps/worker/src/main.ts", env);

/** SIGTERM to each process given (absent ones skipped), resolved once every one has exited. */
export const stopApps = async (...apps: Array<Omit<AppProcess, "base"> | undefined>): Promise<void> => {
  for (const app of apps) app?.child.kill("SIGTERM");
  await Promise.all(apps.map((app) => app?.exited));
};

/** JSON over HTTP, as a client written from the contract would call it. */
export const call = async (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown> };
};
