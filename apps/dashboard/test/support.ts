import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type AppProcess, call, createTestEnv, spawnGateway, spawnWorker, type TestEnv } from "@usage/testkit";
import type { Page } from "playwright-core";
import { expect } from "vitest";

/** Where the tests leave their screenshots; `SCREENSHOT_DIR=docs/images` refreshes the docs' pictures. */
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? "var/screenshots";

export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

export interface Stack {
  env: TestEnv;
  gateway: AppProcess;
  stop(): Promise<void>;
}

const DASHBOARD = "apps/dashboard";

/**
 * Builds the page from its sources into a directory of this test file's own, so the tests
 * never run against a stale apps/dashboard/dist (nor race another file rebuilding it).
 */
const buildPage = async (): Promise<string> => {
  const outDir = await mkdtemp(join(tmpdir(), "dashboard-"));
  await promisify(execFile)(
    process.execPath,
    ["node_modules/vite/bin/vite.js", "build", "--outDir", outDir, "--emptyOutDir", "--logLevel", "warn"],
    {
      cwd: DASHBOARD,
      env: { ...process.env, NODE_ENV: "production" },
    },
  ).catch((error: unknown) => {
    throw new Error(`building the dashboard failed: ${String(error)}`);
  });
  return outDir;
};

/** A real gateway (serving the page built from its sources) and worker on a database and key prefix of their own. */
export const startStack = async (overrides: Record<string, string> = {}): Promise<Stack> => {
  const [env, pageDir] = await Promise.all([
    createTestEnv({ LOG_LEVEL: "warn", REGISTER_LIMIT_PER_HOUR: "1000", ...overrides }),
    buildPage(),
  ]);
  const gateway = await spawnGateway({ ...env.env, DASHBOARD_DIR: pageDir });
  const worker = spawnWorker(env.env);
  return {
    env,
    gateway,
    async stop() {
      gateway.child.kill("SIGTERM");
      worker.child.kill("SIGTERM");
      await Promise.all([gateway.exited, worker.exited]);
      await Promise.all([env.cleanup(), rm(pageDir, { recursive: true, force: true })]);
    },
  };
};

export interface Registered {
  clientId: string;
  apiKey: string;
  email: string;
  name: string;
}

export const register = async (base: string, name: string): Promise<Registered> => {
  const email = `${name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${randomUUID().slice(0, 8)}@example.com`;
  const answer = await call(base, "POST", "/api/register", { name, email });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return { clientId: answer.body.client_id as string, apiKey: answer.body.api_key as string, email, name };
};

/** Posts hits one by one as an SDK would; the statuses, in order. */
export const postHits = async (base: string, apiKey: string, count: number): Promise<number[]> => {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await call(
      base,
      "POST",
      "/api/logs",
      { ip: "203.0.113.7", endpoint: `/v1/things/${i}`, timestamp: new Date().toISOString() },
      { "x-api-key": apiKey },
    );
    statuses.push(answer.status);
  }
  return statuses;
};

export const signIn = async (page: Page, base: string, key: string): Promise<void> => {
  await page.goto(`${base}/dashboard`);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
};

/** Resizes, then waits until nothing is wider than the screen (the chart follows its box). */
export const resize = async (page: Page, size: { width: number; height: number }): Promise<void> => {
  await page.setViewportSize(size);
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(size.width);
};

/** Console lines other than the ones a test expects (a 401 it caused, the network errors of a cut). */
export const unexpected = (errors: readonly string[], expected: RegExp): string[] => errors.filter((line) => !expected.test(line));

export const screenshot = async (page: Page, name: string): Promise<void> => {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
};
