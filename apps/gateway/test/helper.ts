import { createLogger } from "@usage/core";
import { ADMIN_KEY, createTestEnv, type TestDatabaseSource, type TestEnv } from "@usage/testkit";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { expect } from "vitest";
import { buildApp } from "../src/app.ts";

export interface TestClient {
  client_id: string;
  name: string;
  email: string;
  api_key: string;
}

export interface GatewayHarness extends TestEnv {
  app: FastifyInstance;
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  register(name?: string, email?: string): Promise<TestClient>;
  tokenFor(apiKey: string): Promise<string>;
  adminToken(): Promise<string>;
  close(): Promise<void>;
}

let counter = 0;
export const uniqueEmail = (): string => `user${Date.now()}_${process.pid}_${counter++}@example.com`;

/** A gateway on a private database and Redis prefix, driven through inject(). */
export const buildGateway = async (overrides: Record<string, string> = {}, source?: TestDatabaseSource): Promise<GatewayHarness> => {
  const env = await createTestEnv(overrides, source);
  const app = await buildApp(env.config, { logger: createLogger("gateway-test", "silent") });
  await app.ready();
  const inject = (options: InjectOptions) => app.inject(options);
  const harness: GatewayHarness = {
    ...env,
    app,
    inject,
    async register(name = "Test client", email = uniqueEmail()) {
      const response = await inject({ method: "POST", url: "/api/register", payload: { name, email } });
      expect(response.statusCode, response.body).toBe(201);
      return response.json<TestClient>();
    },
    async tokenFor(apiKey) {
      const response = await inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": apiKey } });
      expect(response.statusCode, response.body).toBe(200);
      return response.json<{ access_token: string }>().access_token;
    },
    adminToken() {
      return harness.tokenFor(ADMIN_KEY);
    },
    async close() {
      await app.close();
      await env.cleanup();
    },
  };
  return harness;
};

export const hit = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  ip: "203.0.113.7",
  endpoint: "/v1/things",
  timestamp: new Date().toISOString(),
  method: "GET",
  status: 200,
  ...overrides,
});

/** Asserts the contract's error shape and code, printing the body on failure. */
export const expectError = (response: LightMyRequestResponse, status: number, code: string): void => {
  expect(response.statusCode, response.body).toBe(status);
  const body = response.json<Record<string, unknown>>();
  expect(body, response.body).toMatchObject({ statusCode: status, code, error: expect.any(String), message: expect.any(String) });
  expect(Object.keys(body).sort()).toEqual(["code", "error", "message", "statusCode"]);
};
