import { type ChildProcess, spawn } from "node:child_process";
import { eventually } from "./harness.ts";
import { freePort } from "./redis-server.ts";

export interface AppProcess {
  child: ChildProcess;
  base: string;
  exited: Promise<number | null>;
}

/** Runs an app entry point as its own process with the given settings. */
export const spawnApp = (script: string, env: Record<string, string>): Omit<AppProcess, "base"> => {
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited };
};

/** A gateway process on a free port, resolved once it answers /health. */
export const spawnGateway = async (env: Record<string, string>): Promise<AppProcess> => {
  const port = await freePort();
  const app = spawnApp("apps/gateway/src/server.ts", { ...env, PORT: String(port) });
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 20_000, `gateway on ${port}`);
  return { ...app, base };
};

export const spawnWorker = (env: Record<string, string>): Omit<AppProcess, "base"> => spawnApp("apps/worker/src/main.ts", env);

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
