import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, type GatewayHarness, hit } from "./helper.ts";

describe("operations routes", () => {
  let gw: GatewayHarness;
  beforeAll(async () => {
    gw = await buildGateway();
  });
  afterAll(async () => gw.close());

  it("GET /health answers ok", async () => {
    const response = await gw.inject({ method: "GET", url: "/health" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: "ok" });
  });

  it("GET /health/ready reports both dependencies up", async () => {
    const response = await gw.inject({ method: "GET", url: "/health/ready" });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ status: "ok", checks: { postgres: "up", redis: "up" } });
  });

  it("GET /metrics serves Prometheus text with ingest and queue figures", async () => {
    const client = await gw.register();
    await gw.inject({ method: "POST", url: "/api/logs", headers: { "x-api-key": client.api_key }, payload: hit() });
    const response = await gw.inject({ method: "GET", url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toContain("text/plain");
    expect(response.body).toMatch(/usage_hits_total\{outcome="accepted"\} 1/);
    expect(response.body).toMatch(/usage_queue_jobs\{state="waiting"\} \d+/);
    expect(response.body).toContain("usage_batcher_flush_seconds_bucket");
  });

  it("GET /docs/json documents every contract route", async () => {
    const response = await gw.inject({ method: "GET", url: "/docs/json" });
    expect(response.statusCode).toBe(200);
    const doc = response.json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      "/api/register",
      "/api/auth/token",
      "/api/logs",
      "/api/logs/batch",
      "/api/usage/daily",
      "/api/usage/top",
      "/health",
      "/health/ready",
      "/metrics",
    ]) {
      expect(Object.keys(doc.paths), path).toContain(path);
    }
    expect(doc.paths["/api/logs"].post.responses).toHaveProperty("202");
    expect(doc.paths["/api/logs"].post.responses).toHaveProperty("429");
  });

  it("GET /docs serves Swagger UI", async () => {
    const response = await gw.inject({ method: "GET", url: "/docs/" });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain("swagger");
  });

  it("echoes a request id and sets security headers", async () => {
    const response = await gw.inject({ method: "GET", url: "/health", headers: { "x-request-id": "abc-123" } });
    expect(response.headers["x-request-id"]).toBe("abc-123");
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    expect(response.headers["x-frame-options"]).toBeDefined();
  });

  it("gives every answer its own request id, and the hit routes no browser headers", async () => {
    const [a, b] = await Promise.all([
      gw.inject({ method: "GET", url: "/health" }),
      gw.inject({ method: "POST", url: "/api/logs", payload: {} }),
    ]);
    expect(a.headers["x-request-id"]).toMatch(/^[\w-]+$/);
    expect(b.headers["x-request-id"]).toMatch(/^[\w-]+$/);
    expect(a.headers["x-request-id"]).not.toBe(b.headers["x-request-id"]);
    // SDKs call the hit routes, never a browser: helmet's headers stay off them (docs/architecture.md).
    expect(b.statusCode).toBe(401);
    expect(b.headers["x-frame-options"]).toBeUndefined();
  });

  it("answers 404 NOT_FOUND in the contract's shape for an unknown route", async () => {
    const response = await gw.inject({ method: "GET", url: "/api/nope" });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ statusCode: 404, code: "NOT_FOUND", error: "Not Found" });
  });
});
