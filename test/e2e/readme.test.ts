import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@usage/core";
import { buildApp } from "@usage/gateway/app";
import { createTestEnv, freePort, silentLogger, type TestEnv } from "@usage/testkit";
import { startWorker, type WorkerRuntime } from "@usage/worker/runtime";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const readme = readFileSync("README.md", "utf8");
const ci = readFileSync(".ci/run", "utf8");
const manifest = JSON.parse(readFileSync("package.json", "utf8")) as { packageManager: string; devDependencies: Record<string, string> };

/** The code blocks of a markdown text, in order. */
const codeBlocks = (markdown: string, lang: string): string[] =>
  [...markdown.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, "gm"))].map((match) => match[1] ?? "");

/** A command line without its trailing `# comment`. */
const command = (line: string): string => line.replace(/\s+#.*$/, "").trim();

describe("README's two commands", () => {
  const [first = ""] = codeBlocks(readme, "bash");
  const [start = "", test = ""] = first.trim().split("\n").map(command);

  it("install and start, then test, through the pnpm that package.json pins", () => {
    const pinned = manifest.packageManager.replace(/^pnpm@/, "");
    expect(start).toBe(`npx -y pnpm@${pinned} install && npx -y pnpm@${pinned} start`);
    expect(test).toBe(`npx -y pnpm@${pinned} test`);
  });

  it("are what CI runs, verbatim", () => {
    expect(ci).toContain(`readonly START_COMMAND='${start}'`);
    expect(ci).toContain(`readonly TEST_COMMAND='${test}'`);
    expect(ci).toMatch(/setsid bash -c "\$START_COMMAND"/);
    expect(ci).toMatch(/bash -c "\$TEST_COMMAND"/);
  });

  it("check engines against the Node the project brings, not the one running pnpm", () => {
    const workspace = readFileSync("pnpm-workspace.yaml", "utf8");
    expect(workspace).toMatch(new RegExp(`^nodeVersion: ${manifest.devDependencies.node?.replaceAll(".", "\\.")}$`, "m"));
  });
});

/** The README's bash block that contains `marker`. */
const block = (marker: string): string => {
  const found = codeBlocks(readme, "bash").filter((code) => code.includes(marker));
  if (found.length !== 1) throw new Error(`README has ${found.length} bash blocks with ${JSON.stringify(marker)}`);
  return found[0] as string;
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a README snippet as pasted into bash, against `address` instead of localhost:3000. */
const bash = (script: string, address: string, cwd: string): Promise<Run> =>
  new Promise((resolve) => {
    execFile("bash", ["-c", script.replaceAll("localhost:3000", address)], { cwd, timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr }),
    );
  });

describe("README's Try it and admin flow, run as written", () => {
  const tryIt = block("ok() {");
  const envLine = block(">> .env");
  const admin = block("ADMIN_TOKEN=");
  let dir: string;
  let env: TestEnv;
  let app: FastifyInstance;
  let worker: WorkerRuntime;
  let address: string;

  beforeAll(async () => {
    // The admin key as the README makes it: appended to .env, then read by the gateway.
    dir = mkdtempSync(join(tmpdir(), "readme-"));
    const made = await bash(envLine, "unused", dir);
    expect(made.code, made.stderr).toBe(0);
    const adminKey = /^ADMIN_API_KEY=(.*)$/m.exec(readFileSync(join(dir, ".env"), "utf8"))?.[1] ?? "";
    env = await createTestEnv({ ADMIN_API_KEY: adminKey });
    app = await buildApp(env.config, { logger: createLogger("readme-test", "silent") });
    await app.listen({ port: 0, host: "127.0.0.1" });
    address = `127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    worker = await startWorker(env.workerConfig, silentLogger());
  });
  afterAll(async () => {
    await worker?.close();
    await app?.close();
    await env?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers, records a hit and reads the usage, printing each answer", async () => {
    const run = await bash(tryIt, address, dir);
    expect(run.code, run.stderr).toBe(0);
    const [hit = "", daily = ""] = run.stdout.trim().split("\n");
    expect(JSON.parse(hit)).toEqual({ id: expect.any(String), duplicate: false });
    expect(JSON.parse(daily).data[0]).toMatchObject({ name: "Acme" });
  });

  it("stops at once with one clear line when nothing answers", async () => {
    const run = await bash(tryIt, `127.0.0.1:${await freePort()}`, dir);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^stopped: no answer \(is pnpm start running on :3000\?\)$/m);
    expect(run.stderr.match(/^stopped:/gm)).toHaveLength(1);
  });

  it("stops with the error's status, code and message on an error answer", async () => {
    const refused = '{"statusCode":429,"code":"RATE_LIMITED","error":"Too Many Requests","message":"rate limit of 20 per 1 hour exceeded"}';
    const definition = tryIt.slice(0, tryIt.indexOf("\nKEY="));
    const run = await bash(`${definition}\necho '${refused}' | ok api_key && echo carried on`, address, dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim()).toBe("stopped: 429 RATE_LIMITED: rate limit of 20 per 1 hour exceeded");
  });

  it("exchanges the admin key from .env and reads the top list and every client's usage", async () => {
    const run = await bash(`${tryIt}\n${admin}`, address, dir);
    expect(run.code, run.stderr).toBe(0);
    const [, , top = "", daily = ""] = run.stdout.trim().split("\n");
    expect(JSON.parse(top)).toMatchObject({ window: { from: expect.any(String), to: expect.any(String) } });
    expect(JSON.parse(daily).data.length).toBeGreaterThanOrEqual(2);
  });
});
