import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { ADMIN_KEY, call } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, errorLine, printed, run, type System, startSystem } from "./harness.ts";

interface Created {
  client_id: string;
  api_key: string;
}

/** usagectl clients … against the client-management API (GET/PATCH /api/clients…, keys, revoke). */
describe("usagectl clients", () => {
  let system: System;
  let admin: string;
  const usagectl = (...args: string[]) => run(args, system.cli);
  const api = async (method: string, path: string) =>
    (await call(system.gateway.base, method, path, undefined, { authorization: `Bearer ${admin}` })).body;
  const tokenStatus = async (apiKey: string) =>
    (await call(system.gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": apiKey })).status;
  const hitStatus = async (apiKey: string) =>
    (
      await call(
        system.gateway.base,
        "POST",
        "/api/logs",
        { ip: "192.0.2.1", endpoint: "/q", timestamp: new Date().toISOString() },
        { "x-api-key": apiKey },
      )
    ).status;
  const create = async (name: string): Promise<Created> => {
    const result = await usagectl(
      "clients",
      "create",
      "--name",
      name,
      "--email",
      `${name.toLowerCase()}-${randomUUID()}@example.com`,
      "--json",
    );
    expect(result.code, printed(result)).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    system = await startSystem({ RATE_LIMIT_PER_HOUR: "100000" });
    system.startWorker();
    admin = (await call(system.gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": ADMIN_KEY })).body.access_token as string;
  });
  afterAll(async () => system?.stop());

  it("list: the API's page with --json, an aligned table without, --query and paging", async () => {
    const zeta = await create("Zeta");
    const zorro = await create("Zorro");
    await create("Other");

    const json = await usagectl("clients", "list", "--json");
    expect(json.code, printed(json)).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await api("GET", "/api/clients?limit=100"));

    const query = JSON.parse((await usagectl("clients", "list", "--query", "z", "--json")).stdout);
    expect(query.data.map((c: { client_id: string }) => c.client_id)).toEqual([zorro.client_id, zeta.client_id]);

    const table = await usagectl("clients", "list", "--query", "z");
    expect(table.code, printed(table)).toBe(0);
    const [header, first, second] = table.stdout.trimEnd().split("\n") as [string, string, string];
    expect(header).toMatch(/^CLIENT_ID +NAME +EMAIL +QUOTA\/H +CREATED +REVOKED$/);
    expect(first.startsWith(`${zorro.client_id}  Zorro`)).toBe(true);
    for (const column of ["EMAIL", "QUOTA/H", "CREATED", "REVOKED"]) {
      expect(first.slice(header.indexOf(column)).split("  ")[0], column).not.toMatch(/^ /);
      expect(second.slice(header.indexOf(column)).split("  ")[0], column).not.toMatch(/^ /);
    }
    expect(first).toMatch(/ default +\d{4}-\d\d-\d\dT\S+ +-$/);

    const page = await usagectl("clients", "list", "--limit", "1", "--query", "z");
    const cursor = /^more: usagectl clients list --cursor (\S+)$/.exec(page.stderr.trim())?.[1];
    expect(cursor, printed(page)).toBeDefined();
    const next = JSON.parse(
      (await usagectl("clients", "list", "--limit", "1", "--query", "z", "--cursor", cursor as string, "--json")).stdout,
    );
    expect(next.data.map((c: { client_id: string }) => c.client_id)).toEqual([zeta.client_id]);
  });

  it("show: the API's client with --json, fields without; an unknown id exits 4", async () => {
    const client = await create("Shown");
    const json = await usagectl("clients", "show", client.client_id, "--json");
    expect(json.code, printed(json)).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await api("GET", `/api/clients/${client.client_id}`));
    expect(json.stdout).not.toContain(client.api_key);

    const fields = await usagectl("clients", "show", client.client_id);
    expect(fields.stdout).toMatch(
      new RegExp(`^client_id +${client.client_id}\nname +Shown\nemail +shown-\\S+@example.com\nquota/hour +default\n`),
    );

    const missing = await usagectl("clients", "show", randomUUID());
    expect(missing.code, printed(missing)).toBe(4);
    expect(errorLine(missing)).toMatch(/^error: 404 NOT_FOUND: .+ \(\/api\/clients\/[0-9a-f-]{36}\)$/);
  });

  it("quota: a number applies to the next hits, 0 blocks them, default restores RATE_LIMIT_PER_HOUR", async () => {
    const client = await create("Quota");
    const two = await usagectl("clients", "quota", client.client_id, "2", "--json");
    expect(two.code, printed(two)).toBe(0);
    expect(JSON.parse(two.stdout)).toMatchObject({ client_id: client.client_id, rate_limit_per_hour: 2 });
    expect([await hitStatus(client.api_key), await hitStatus(client.api_key), await hitStatus(client.api_key)]).toEqual([202, 202, 429]);

    const zero = await usagectl("clients", "quota", client.client_id, "0");
    expect(zero.code, printed(zero)).toBe(0);
    expect(zero.stdout).toMatch(/\nquota\/hour +0\n/);
    expect(zero.stderr).toContain("a quota of 0 blocks every hit");

    const back = await usagectl("clients", "quota", client.client_id, "default", "--json");
    expect(JSON.parse(back.stdout).rate_limit_per_hour).toBeNull();
    expect(await hitStatus(client.api_key)).toBe(202);
  });

  it("rotate: refused without --yes off a terminal (the key unchanged); with --yes a new key, the old one dead or in grace", async () => {
    const client = await create("Rotated");
    const refused = await usagectl("clients", "rotate", client.client_id);
    expect(refused.code, printed(refused)).toBe(2);
    expect(await tokenStatus(client.api_key)).toBe(200);

    const rotated = await usagectl("clients", "rotate", client.client_id, "--yes", "--json");
    expect(rotated.code, printed(rotated)).toBe(0);
    const body = JSON.parse(rotated.stdout);
    expect(Object.keys(body).sort()).toEqual(["api_key", "key_created_at", "previous_key_expires_at"]);
    expect(rotated.stderr).toMatch(/^warning: the API key is shown this once/);
    expect(await tokenStatus(body.api_key)).toBe(200);
    expect(await tokenStatus(client.api_key)).toBe(401);

    const graced = await usagectl("clients", "rotate", client.client_id, "--grace", "3600", "--yes");
    expect(graced.code, printed(graced)).toBe(0);
    const newKey = /^api_key +(\S+)$/m.exec(graced.stdout)?.[1] as string;
    const expires = Date.parse(/^previous_key_expires_at +(\S+)$/m.exec(graced.stdout)?.[1] as string);
    expect(Math.abs(expires - (Date.now() + 3_600_000))).toBeLessThan(60_000);
    expect(await tokenStatus(newKey)).toBe(200);
    expect(await tokenStatus(body.api_key)).toBe(200);

    const badGrace = await usagectl("clients", "rotate", client.client_id, "--grace", "86401", "--yes");
    expect(badGrace.code, printed(badGrace)).toBe(2);
  });

  it("rotate on a terminal goes on when the answer is y", async () => {
    const client = await create("Terminal");
    const command = `'${process.execPath}' '${BIN}' clients rotate ${client.client_id} --url ${system.gateway.base} --admin-key ${ADMIN_KEY}`;
    const result = spawnSync("script", ["-qec", command, "/dev/null"], { input: "y\n", encoding: "utf8", timeout: 20_000 });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/Rotate the API key of client \S+\? Its current key stops working at once\. \[y\/N\]/);
    const newKey = /^api_key +(\S+)\s*$/m.exec(result.stdout)?.[1] as string;
    expect(await tokenStatus(newKey)).toBe(200);
    expect(await tokenStatus(client.api_key)).toBe(401);
  });

  it("revoke: refused without --yes; with it the client's keys answer 401, twice is the same revocation", async () => {
    const client = await create("Revoked");
    expect((await usagectl("clients", "revoke", client.client_id)).code).toBe(2);
    expect(await tokenStatus(client.api_key)).toBe(200);

    const revoked = await usagectl("clients", "revoke", client.client_id, "--yes", "--json");
    expect(revoked.code, printed(revoked)).toBe(0);
    const body = JSON.parse(revoked.stdout);
    expect(body).toMatchObject({ client_id: client.client_id, revoked_at: expect.stringMatching(/^\d{4}-/) });
    expect(await tokenStatus(client.api_key)).toBe(401);

    const again = await usagectl("clients", "revoke", client.client_id, "--yes");
    expect(again.code, printed(again)).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`\nrevoked_at +${body.revoked_at.replace(/\./g, "\\.")}\n`));

    const listed = await usagectl("clients", "list", "--query", "revoked");
    expect(listed.stdout.split("\n")[1]).toMatch(new RegExp(`^${client.client_id}  Revoked .+ ${body.revoked_at.replace(/\./g, "\\.")}$`));

    const missing = await usagectl("clients", "revoke", randomUUID(), "--yes");
    expect(missing.code, printed(missing)).toBe(4);
  });
});
