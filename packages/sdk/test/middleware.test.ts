import { type AddressInfo, createServer, type Socket } from "node:net";
import { eventually } from "@usage/testkit";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageExpress } from "../src/express.ts";
import { UsageClient } from "../src/index.ts";
import { request, startExpressApp, startFastifyApp, storedHits } from "./apps.ts";
import { type Stack, startStack } from "./helpers.ts";

describe("middleware records the user's answered requests through a real gateway", () => {
  let stack: Stack;
  let usage: UsageClient;
  beforeAll(async () => {
    stack = await startStack({ RATE_LIMIT_PER_HOUR: "100000" });
    usage = new UsageClient({ baseUrl: stack.base, flushIntervalMs: 50, onError: () => {} });
  });
  afterAll(async () => {
    await usage?.shutdown();
    await stack?.stop();
  });

  it("Fastify: route pattern (prefix included), method, status and caller IP of each answered request; no key, no record", async () => {
    const { apiKey, clientId } = await stack.register();
    const app = await startFastifyApp({ client: usage });
    expect((await request(app.base, "/v1/orders/42?expand=1", apiKey)).status).toBe(200);
    expect((await request(app.base, "/v1/orders/43", apiKey)).status).toBe(200);
    expect((await request(app.base, "/v1/orders", apiKey, "POST")).status).toBe(201);
    expect((await request(app.base, "/v2/items/9", apiKey)).status).toBe(200);
    expect((await request(app.base, "/v1/fail", apiKey)).status).toBe(500);
    expect((await request(app.base, "/nowhere/7", apiKey)).status).toBe(404);
    expect((await request(app.base, "/v1/orders/44")).status).toBe(200);
    // The user's apiKey function throws: the request is answered all the same, untracked.
    expect((await fetch(`${app.base}/v1/orders/45`, { headers: { "x-api-key": apiKey, "x-explode": "1" } })).status).toBe(200);
    expect(await storedHits(stack, usage, clientId, 6)).toEqual([
      { endpoint: "/nowhere/7", method: "GET", status: 404, ip: "127.0.0.1" },
      { endpoint: "/v1/fail", method: "GET", status: 500, ip: "127.0.0.1" },
      { endpoint: "/v1/orders", method: "POST", status: 201, ip: "127.0.0.1" },
      { endpoint: "/v1/orders/:id", method: "GET", status: 200, ip: "127.0.0.1" },
      { endpoint: "/v1/orders/:id", method: "GET", status: 200, ip: "127.0.0.1" },
      { endpoint: "/v2/items/:itemId", method: "GET", status: 200, ip: "127.0.0.1" },
    ]);
    await app.close();
  });

  it("Express: route pattern (routers' mount paths included), method, status and caller IP; no key, no record", async () => {
    const { apiKey, clientId } = await stack.register();
    const app = await startExpressApp({ client: usage });
    expect((await request(app.base, "/v1/orders/42?expand=1", apiKey)).status).toBe(200);
    expect((await request(app.base, "/v1/orders", apiKey, "POST")).status).toBe(201);
    expect((await request(app.base, "/v1/orders/42/fail", apiKey)).status).toBe(500);
    expect((await request(app.base, "/v1/ping", apiKey)).status).toBe(200);
    expect((await request(app.base, "/missing", apiKey)).status).toBe(404);
    expect((await request(app.base, "/v1/ping")).status).toBe(200);
    expect(await storedHits(stack, usage, clientId, 5)).toEqual([
      { endpoint: "/missing", method: "GET", status: 404, ip: "127.0.0.1" },
      { endpoint: "/v1/orders", method: "POST", status: 201, ip: "127.0.0.1" },
      { endpoint: "/v1/orders/:id", method: "GET", status: 200, ip: "127.0.0.1" },
      { endpoint: "/v1/orders/:id/fail", method: "GET", status: 500, ip: "127.0.0.1" },
      { endpoint: "/v1/ping", method: "GET", status: 200, ip: "127.0.0.1" },
    ]);
    await app.close();
  });

  it("Fastify and Express track a request once it is answered, not while its handler runs", async () => {
    const { apiKey } = await stack.register();
    const idle = new UsageClient({ baseUrl: stack.base, flushIntervalMs: 60_000, onError: () => {} });
    for (const start of [startFastifyApp, startExpressApp]) {
      const app = await start({ client: idle });
      const before = idle.stats().queued;
      const seenByHandler = (await (await request(app.base, "/v1/probe", apiKey)).json()) as { queued: number };
      expect(seenByHandler.queued).toBe(before);
      // The response's finish event may come a moment after the caller has the body.
      await eventually(async () => (idle.stats().queued === before + 1 ? true : undefined), 5000, "tracked after the response");
      await app.close();
    }
    await idle.shutdown();
  });

  it("Express, mounted on a route: enforce records the route's pattern too", async () => {
    const { apiKey, clientId } = await stack.register();
    const app = express();
    app.get("/v3/things/:id", usageExpress({ client: usage, apiKey: (req) => req.get("x-api-key"), enforce: true }), (_req, res) => {
      res.json({ ok: true });
    });
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const response = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, "/v3/things/5", apiKey);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-ratelimit-remaining")).toBe("99999");
    expect(await storedHits(stack, usage, clientId, 1)).toEqual([
      { endpoint: "/v3/things/:id", method: "GET", status: null, ip: "127.0.0.1" },
    ]);
    await new Promise((resolve) => server.close(resolve));
  });

  it("enforce with a service that does not answer: requests pass after enforceTimeoutMs and are tracked, to be counted later", async () => {
    const sockets = new Set<Socket>();
    const stalled = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
    const down = new UsageClient({
      baseUrl: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`,
      timeoutMs: 60_000,
      onError: () => {},
    });
    const app = await startFastifyApp({ client: down, enforce: true, enforceTimeoutMs: 300 });
    const started = Date.now();
    expect((await request(app.base, "/v1/orders/1", "uk_some_key")).status).toBe(200);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(5000);
    expect(app.handled.count).toBe(1);
    await eventually(
      async () => (down.stats().queued + down.stats().inFlight === 1 ? true : undefined),
      5000,
      "tracked after the response",
    );
    await app.close();
    await down.shutdown({ timeoutMs: 100 });
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => stalled.close(resolve));
  });
});
