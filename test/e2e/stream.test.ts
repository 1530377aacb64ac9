import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createLogger } from "@usage/core";
import { buildApp } from "@usage/gateway/app";
import { ADMIN_KEY, createTestEnv, eventually, silentLogger, type TestEnv } from "@usage/testkit";
import { startWorker, type WorkerRuntime } from "@usage/worker/runtime";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

interface Message {
  type: string;
  client_id?: string;
  date?: string;
  delta?: number;
  total_requests?: number;
  data?: Array<{ client_id: string; total_requests: number }>;
}

/** A WebSocket that records every message and how it closed. */
const connect = (url: string, headers: Record<string, string> = {}) => {
  const socket = new WebSocket(url, { headers });
  const messages: Message[] = [];
  const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
  socket.on("message", (data) => messages.push(JSON.parse(String(data))));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return { socket, messages, closed, opened };
};

describe("GET /api/usage/stream", () => {
  let env: TestEnv;
  let app: FastifyInstance;
  let worker: WorkerRuntime;
  let base: string;

  beforeAll(async () => {
    env = await createTestEnv();
    app = await buildApp(env.config, { logger: createLogger("stream-test", "silent") });
    await app.listen({ port: 0, host: "127.0.0.1" });
    base = `127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    worker = await startWorker(env.workerConfig, silentLogger());
  });
  afterAll(async () => {
    await worker.close();
    await app.close();
    await env.cleanup();
  });

  const http = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`http://${base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await response.json()) as Record<string, string>;
  };
  const register = async (name: string) => {
    const client = await http("POST", "/api/register", { name, email: `${randomUUID()}@example.com` });
    const token = (await http("POST", "/api/auth/token", undefined, { "x-api-key": client.api_key as string })).access_token as string;
    return { id: client.client_id as string, key: client.api_key as string, token };
  };
  const hits = (key: string, n: number) =>
    http(
      "POST",
      "/api/logs/batch",
      { hits: Array.from({ length: n }, () => ({ ip: "192.0.2.1", endpoint: "/s", timestamp: new Date().toISOString() })) },
      { "x-api-key": key },
    );

  it("shows a client its own changes, an admin every change, and another client nothing", async () => {
    const alice = await register("Alice");
    const bob = await register("Bob");
    const admin = (await http("POST", "/api/auth/token", undefined, { "x-api-key": ADMIN_KEY })).access_token as string;
    const aliceSocket = connect(`ws://${base}/api/usage/stream?token=${alice.token}`);
    const adminSocket = connect(`ws://${base}/api/usage/stream`, { authorization: `Bearer ${admin}` });
    const bobSocket = connect(`ws://${base}/api/usage/stream?token=${bob.token}`);
    await Promise.all([aliceSocket.opened, adminSocket.opened, bobSocket.opened]);
    const today = new Date().toISOString().slice(0, 10);
    // Everyone starts from a snapshot of the current day.
    await eventually(async () =>
      aliceSocket.messages.length && adminSocket.messages.length && bobSocket.messages.length ? true : undefined,
    );
    expect(aliceSocket.messages[0]).toEqual({ type: "usage.snapshot", date: today, data: [{ client_id: alice.id, total_requests: 0 }] });
    expect(bobSocket.messages[0]).toEqual({ type: "usage.snapshot", date: today, data: [{ client_id: bob.id, total_requests: 0 }] });

    const sentAt = Date.now();
    await hits(alice.key, 3);
    const update = await eventually(
      async () => aliceSocket.messages.find((m) => m.type === "usage.updated"),
      2_000,
      "alice's update within 2 s",
    );
    expect(Date.now() - sentAt).toBeLessThan(2_000);
    expect(update).toEqual({ type: "usage.updated", client_id: alice.id, date: today, delta: 3, total_requests: 3 });
    const adminUpdate = await eventually(
      async () => adminSocket.messages.find((m) => m.type === "usage.updated" && m.client_id === alice.id),
      2_000,
    );
    expect(adminUpdate).toEqual(update);

    await hits(bob.key, 2);
    await eventually(
      async () => adminSocket.messages.find((m) => m.type === "usage.updated" && m.client_id === bob.id),
      2_000,
      "admin sees bob",
    );
    await eventually(async () => bobSocket.messages.find((m) => m.type === "usage.updated"), 2_000, "bob sees bob");
    // Alice never sees Bob; Bob never sees Alice.
    expect(aliceSocket.messages.every((m) => m.type === "usage.snapshot" || m.client_id === alice.id)).toBe(true);
    expect(bobSocket.messages.every((m) => m.type === "usage.snapshot" || m.client_id === bob.id)).toBe(true);

    // A reconnecting dashboard starts from the current totals.
    aliceSocket.socket.close();
    await aliceSocket.closed;
    const again = connect(`ws://${base}/api/usage/stream?token=${alice.token}`);
    await again.opened;
    const snap = await eventually(async () => again.messages[0]);
    expect(snap).toEqual({ type: "usage.snapshot", date: today, data: [{ client_id: alice.id, total_requests: 3 }] });
    for (const s of [again, adminSocket, bobSocket]) s.socket.close();
  });

  it("closes with 4401 on a missing or bad token", async () => {
    const missing = connect(`ws://${base}/api/usage/stream`);
    expect(await missing.closed).toBe(4401);
    const bad = connect(`ws://${base}/api/usage/stream?token=not.a.token`);
    expect(await bad.closed).toBe(4401);
  });
});
