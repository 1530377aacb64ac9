import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { ADMIN_KEY, type AppProcess, freePort, spawnGateway } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, errorLine, printed, run, type System, startSystem } from "./harness.ts";

const ID = "3f0c2a9e-5b1d-4c7e-9a43-2d8e6f1b7c20";

/** Every kind of failure: one line on stderr, its own exit code (the table in usagectl --help). */
describe("usagectl failures and exit codes", () => {
  let system: System;
  /** A gateway whose Postgres is unreachable, whose allowlist excludes this machine, one registration per hour. */
  let broken: AppProcess;
  let closedPort: number;
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];
  const usagectl = (...args: string[]) => run(args, system.cli);

  beforeAll(async () => {
    system = await startSystem();
    broken = await spawnGateway({
      ...system.env.env,
      DATABASE_URL: `postgres://127.0.0.1:${await freePort()}/nowhere`,
      ADMIN_IP_ALLOWLIST: "192.0.2.0/24",
      REGISTER_LIMIT_PER_HOUR: "1",
      REDIS_PREFIX: `${system.env.config.redisPrefix}_broken`,
    });
    closedPort = await freePort();
    // Accepts connections and never answers.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    silent?.close();
    broken?.child.kill("SIGTERM");
    await broken?.exited;
    await system?.stop();
  });

  describe("bad usage: 2", () => {
    it("an unknown command, option or bad argument, before any request", async () => {
      for (const [args, line] of [
        [["nope"], /^error: unknown command 'nope' \(see --help\)$/],
        [["usage", "top", "--bogus"], /^error: unknown option '--bogus' \(see --help\)$/],
        [["usage", "top", "--limit", "0"], /^error: option '--limit <n>' argument '0' is invalid\. expected an integer from 1 to 100/],
        [["clients", "show", "not-a-uuid"], /expected a client id \(a UUID\)/],
        [["clients", "quota", ID, "lots"], /expected an integer from 0 to 1000000000/],
        [["queue", "retry"], /^error: name the job ids to retry, or pass --all$/],
      ] as const) {
        const result = await usagectl(...args);
        expect(result.code, printed(result)).toBe(2);
        expect(errorLine(result)).toMatch(line);
        expect(result.stdout).toBe("");
      }
    });

    it("a missing admin key or a URL that is not one", async () => {
      const noKey = await run(["usage", "top"], { USAGE_URL: system.gateway.base });
      expect(noKey.code, printed(noKey)).toBe(2);
      expect(errorLine(noKey)).toBe("error: no admin key: set USAGE_ADMIN_KEY or pass --admin-key");
      const badUrl = await run(["usage", "top", "--url", "localhost:3000"], system.cli);
      expect(badUrl.code, printed(badUrl)).toBe(2);
      expect(errorLine(badUrl)).toMatch(/^error: the URL must be http or https/);
    });

    it("rotate and revoke without a terminal and without --yes refuse, sending nothing", async () => {
      for (const command of ["rotate", "revoke"]) {
        // A closed port: had it sent a request, the exit code would be 7.
        const result = await run(["clients", command, ID], { USAGE_URL: `http://127.0.0.1:${closedPort}`, USAGE_ADMIN_KEY: ADMIN_KEY });
        expect(result.code, printed(result)).toBe(2);
        expect(errorLine(result)).toMatch(
          /^error: refusing to (rotate the key|revoke the client) without confirmation: stdin is not a terminal, pass --yes$/,
        );
      }
    });

    it("a request the API refuses as invalid (400)", async () => {
      const result = await usagectl("clients", "create", "--name", "X", "--email", "not-an-email");
      expect(result.code, printed(result)).toBe(2);
      expect(errorLine(result)).toMatch(/^error: 400 VALIDATION_ERROR: body\/email must match format "email" \(\/api\/register\)$/);
    });
  });

  it("on a terminal, answering no aborts: 1, nothing sent", () => {
    // `script` gives the CLI a pseudo-terminal; its -e passes the exit code through.
    const command = `'${process.execPath}' '${BIN}' clients revoke ${ID} --url http://127.0.0.1:${closedPort} --admin-key ${ADMIN_KEY}`;
    const result = spawnSync("script", ["-qec", command, "/dev/null"], { input: "n\n", encoding: "utf8", timeout: 20_000 });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(1);
    expect(result.stdout).toMatch(/Revoke client 3f0c2a9e-5b1d-4c7e-9a43-2d8e6f1b7c20\? .*\[y\/N\]/);
    expect(result.stdout).toContain("error: aborted: did not revoke the client");
  });

  describe("authentication: 3", () => {
    it("a wrong admin key (401)", async () => {
      const result = await run(["usage", "top"], { ...system.cli, USAGE_ADMIN_KEY: "wrong-admin-key-0123456789" });
      expect(result.code, printed(result)).toBe(3);
      expect(errorLine(result)).toMatch(/^error: the admin key was refused: 401 UNAUTHORIZED: .+ \(\/api\/auth\/token\)$/);
    });

    it("a caller outside ADMIN_IP_ALLOWLIST (403)", async () => {
      const result = await run(["queue", "failed"], { USAGE_URL: broken.base, USAGE_ADMIN_KEY: ADMIN_KEY });
      expect(result.code, printed(result)).toBe(3);
      expect(errorLine(result)).toMatch(/^error: the admin key was refused: 403 FORBIDDEN: /);
    });
  });

  it("not found: 4 (a job id that is no failed job)", async () => {
    const result = await usagectl("queue", "retry", "424242");
    expect(result.code, printed(result)).toBe(4);
    expect(errorLine(result)).toBe("error: not failed jobs (unknown, or not in the failed state): 424242");
  });

  it("conflict: 8 (an email registered already)", async () => {
    const email = `dup-${randomUUID()}@example.com`;
    expect((await usagectl("clients", "create", "--name", "A", "--email", email)).code).toBe(0);
    const result = await usagectl("clients", "create", "--name", "B", "--email", email.toUpperCase());
    expect(result.code, printed(result)).toBe(8);
    expect(errorLine(result)).toMatch(/^error: 409 EMAIL_TAKEN: /);
  });

  it("server error: 6 (Postgres unreachable: 503), then rate limited: 5 (429, with retry-after)", async () => {
    const args = ["clients", "create", "--name", "A", "--email", `x-${randomUUID()}@example.com`, "--url", broken.base];
    const unavailable = await run(args);
    expect(unavailable.code, printed(unavailable)).toBe(6);
    expect(errorLine(unavailable)).toMatch(/^error: 503 UNAVAILABLE: /);
    const limited = await run(args);
    expect(limited.code, printed(limited)).toBe(5);
    expect(errorLine(limited)).toMatch(/^error: 429 RATE_LIMITED: .+; retry after \d+ s$/);
  });

  it("doctor: 6 when Postgres is down, 3 when the key is refused, 7 when nothing answers", async () => {
    const down = await run(["doctor", "--url", broken.base, "--admin-key", ADMIN_KEY]);
    expect(down.code, printed(down)).toBe(6);
    expect(down.stdout).toMatch(/\npostgres +FAIL +down \(GET \/health\/ready answered 503\)\nredis +ok +up\nadmin_key +FAIL +/);
    expect(errorLine(down)).toMatch(/^error: doctor: postgres check failed/);

    const badKey = await run(["doctor", "--json"], { ...system.cli, USAGE_ADMIN_KEY: "wrong-admin-key-0123456789" });
    expect(badKey.code, printed(badKey)).toBe(3);
    expect(JSON.parse(badKey.stdout)).toMatchObject({
      ok: false,
      checks: [{ ok: true }, { ok: true }, { ok: true }, { name: "admin_key", ok: false }],
    });

    const nothing = await run(["doctor", "--url", `http://127.0.0.1:${closedPort}`]);
    expect(nothing.code, printed(nothing)).toBe(7);
    expect(nothing.stdout).toMatch(/^CHECK +STATUS +DETAIL\ngateway +FAIL +cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\n$/);
  });

  describe("network: 7", () => {
    it("nothing listens on the port", async () => {
      const result = await run(["usage", "top"], { USAGE_URL: `http://127.0.0.1:${closedPort}`, USAGE_ADMIN_KEY: ADMIN_KEY });
      expect(result.code, printed(result)).toBe(7);
      expect(errorLine(result)).toBe(`error: cannot reach http://127.0.0.1:${closedPort}: ECONNREFUSED`);
    });

    it("the gateway does not answer within --timeout", async () => {
      const started = Date.now();
      const result = await run(["usage", "top", "--timeout", "1"], {
        USAGE_URL: `http://127.0.0.1:${silentPort}`,
        USAGE_ADMIN_KEY: ADMIN_KEY,
      });
      expect(result.code, printed(result)).toBe(7);
      expect(errorLine(result)).toBe(`error: cannot reach http://127.0.0.1:${silentPort}: no answer in time`);
      expect(Date.now() - started).toBeLessThan(8_000);
    });
  });

  it("--help on every command, exit 0; the root's lists the exit codes", async () => {
    const root = await usagectl("--help");
    expect(root.code).toBe(0);
    for (const line of [
      "2  bad usage",
      "3  authentication",
      "4  not found",
      "5  rate limited",
      "6  server error",
      "7  network",
      "8  conflict",
    ]) {
      expect(root.stdout).toContain(line);
    }
    for (const command of [
      ["clients"],
      ["clients", "list"],
      ["clients", "show"],
      ["clients", "create"],
      ["clients", "quota"],
      ["clients", "rotate"],
      ["clients", "revoke"],
      ["usage", "daily"],
      ["usage", "top"],
      ["queue", "stats"],
      ["queue", "failed"],
      ["queue", "retry"],
      ["stream"],
      ["doctor"],
    ]) {
      const result = await usagectl(...command, "--help");
      expect(result.code, printed(result)).toBe(0);
      expect(result.stdout).toContain(`Usage: usagectl ${command.join(" ")}`);
      expect(result.stdout).toContain("Exit codes: 0 ok");
    }
  });
});
