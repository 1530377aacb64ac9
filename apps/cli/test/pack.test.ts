import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { call } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { printed, run, type System, start, startSystem, stderrShows } from "./harness.ts";

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));

/** The machine's own `node` and `npm`, not the project's Node 24 that pnpm puts first on PATH. */
const machineTool = (name: string): string | undefined =>
  (process.env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => dir !== "" && !dir.includes("node_modules"))
    .map((dir) => join(dir, name))
    .find((file) => existsSync(file));

/** The pnpm running this test (`npx -y pnpm@…` puts none on PATH): its script with our Node, or its binary. */
const execPath = process.env.npm_execpath;
const pnpm: [string, ...string[]] =
  execPath === undefined || !execPath.includes("pnpm") ? ["pnpm"] : /\.[cm]?js$/.test(execPath) ? [process.execPath, execPath] : [execPath];

const machineNode = machineTool("node");
const machineNpm = machineTool("npm");
const major =
  machineNode === undefined ? 0 : Number(execFileSync(machineNode, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }));

/**
 * `pnpm pack` gives a tarball that plain npm installs and the machine's Node runs (20 on
 * this project's machines: no global WebSocket there, so the stream goes through `ws`).
 */
describe.skipIf(machineNode === undefined || machineNpm === undefined || major < 20)(`pnpm pack, npm install, Node ${major}`, () => {
  let dir: string;
  let tarball: string;
  let system: System;
  let bin: string;
  const node = machineNode as string;
  // npm runs on the machine's Node too.
  const env = { ...process.env, PATH: [dirname(node), process.env.PATH].join(delimiter) };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "usagectl-pack-"));
    execFileSync(pnpm[0], [...pnpm.slice(1), "pack", "--pack-destination", dir], { cwd: PACKAGE_DIR, stdio: "ignore" });
    tarball = join(dir, (await readdir(dir)).find((name) => name.endsWith(".tgz")) as string);
    await writeFile(join(dir, "package.json"), "{}\n");
    execFileSync(machineNpm as string, ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], {
      cwd: dir,
      env,
      stdio: "ignore",
      timeout: 120_000,
    });
    bin = join(dir, "node_modules", ".bin", "usagectl");
    system = await startSystem({ RATE_LIMIT_PER_HOUR: "100000" });
    system.startWorker();
  }, 180_000);
  afterAll(async () => {
    await system?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("holds the compiled CLI, its README and package.json only, with no workspace dependency", async () => {
    const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n").sort();
    expect(files.filter((file) => !file.startsWith("package/dist/"))).toEqual(["package/README.md", "package/package.json"]);
    expect(files).toContain("package/dist/bin.js");
    const manifest = await readFile(join(dir, "node_modules", "@usage", "cli", "package.json"), "utf8");
    expect(manifest).not.toContain("workspace:");
    expect(JSON.parse(manifest).bin).toEqual({ usagectl: "dist/bin.js" });
  });

  it("runs as `usagectl` from node_modules/.bin: help, doctor, and a live stream", async () => {
    const how = { node, bin };
    const help = await run(["--help"], {}, how);
    expect(help.code, printed(help)).toBe(0);
    expect(help.stdout).toContain("Exit codes:");

    const doctor = await run(["doctor"], system.cli, how);
    expect(doctor.code, printed(doctor)).toBe(0);
    expect(doctor.stdout).toMatch(/admin_key +ok/);

    const registered = await call(system.gateway.base, "POST", "/api/register", {
      name: "Packed",
      email: `packed-${Date.now()}@example.com`,
    });
    const tail = start(["stream", "--json", "--count", "1"], system.cli, how);
    tail.stdin?.end();
    await stderrShows(tail, "listening on ws://");
    const hit = { ip: "192.0.2.1", endpoint: "/p", timestamp: new Date().toISOString() };
    expect((await call(system.gateway.base, "POST", "/api/logs", hit, { "x-api-key": registered.body.api_key as string })).status).toBe(
      202,
    );
    const result = await tail.done;
    expect(result.code, printed(result)).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      type: "usage.updated",
      client_id: registered.body.client_id,
      delta: 1,
      total_requests: 1,
    });
  });
});
