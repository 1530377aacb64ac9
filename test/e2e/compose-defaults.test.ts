import { readFileSync } from "node:fs";
import { createLogger } from "@usage/core";
import { buildApp } from "@usage/gateway/app";
import { ADMIN_KEY, createTestEnv, type TestEnv } from "@usage/testkit";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const compose = readFileSync("docker-compose.yml", "utf8");

/** The `${NAME:-default}` that docker-compose.yml falls back to when NAME is not exported. */
const composeDefault = (name: string): string => {
  const match = new RegExp(`\\$\\{${name}:-([^}]*)\\}`).exec(compose);
  if (match?.[1] === undefined) throw new Error(`docker-compose.yml has no default for ${name}`);
  return match[1];
};

describe("docker-compose.yml defaults: the admin flow from the host", () => {
  let env: TestEnv;
  let app: FastifyInstance;
  beforeAll(async () => {
    env = await createTestEnv({ ADMIN_IP_ALLOWLIST: composeDefault("ADMIN_IP_ALLOWLIST") });
    app = await buildApp(env.config, { logger: createLogger("compose-test", "silent") });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await env?.cleanup();
  });

  const adminTokenFrom = (remoteAddress: string) =>
    app.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": ADMIN_KEY }, remoteAddress });

  it("publishes the gateway on this machine's loopback only", () => {
    expect(composeDefault("GATEWAY_PUBLISH")).toBe("127.0.0.1:3000");
    expect(compose).toMatch(/^ {6}- "\$\{GATEWAY_PUBLISH:-[^}]*\}:3000"$/m);
  });

  // Where Docker's port forwarding makes a host's call come from: the compose network's
  // gateway (default pools 172.17-31.x, then 192.168.x), Docker Desktop, rootless Docker.
  it.each(["172.17.0.1", "172.18.0.1", "172.31.0.1", "192.168.65.1", "192.168.16.1", "10.0.2.100", "127.0.0.1"])(
    "lets the admin key be exchanged from %s",
    async (address) => {
      const response = await adminTokenFrom(address);
      expect(response.statusCode, response.body).toBe(200);
    },
  );

  it.each(["203.0.113.7", "198.51.100.9", "2001:db8::1"])("still refuses a public address (%s)", async (address) => {
    const response = await adminTokenFrom(address);
    expect(response.statusCode, response.body).toBe(403);
  });
});
