import type { AddressInfo } from "node:net";
import express from "express";
import Fastify from "fastify";
import { sql } from "kysely";
import { usageExpress } from "../src/express.ts";
import { usageFastify } from "../src/fastify.ts";
import type { UsageClient } from "../src/index.ts";
import type { Stack } from "./helpers.ts";

/** The user's own server, with the SDK's middleware in front of a few routes. */
export interface UserApp {
  base: string;
  /** Requests that reached the user's hooks and handlers. */
  handled: { count: number };
  close(): Promise<void>;
}

export interface AppOptions {
  client: UsageClient;
  enforce?: boolean;
  enforceTimeoutMs?: number;
}

export const startFastifyApp = async (options: AppOptions): Promise<UserApp> => {
  const app = Fastify();
  const handled = { count: 0 };
  await app.register(usageFastify, {
    client: options.client,
    apiKey: (request) => {
      if (request.headers["x-explode"] !== undefined) throw new Error("user code failed");
      return request.headers["x-api-key"];
    },
    enforce: options.enforce ?? false,
    ...(options.enforceTimeoutMs === undefined ? {} : { enforceTimeoutMs: options.enforceTimeoutMs }),
  });
  app.addHook("onRequest", async () => {
    handled.count++;
  });
  app.get("/v1/orders/:id", async () => ({ ok: true }));
  // What the client holds while a handler runs.
  app.get("/v1/probe", async () => options.client.stats());
  app.post("/v1/orders", async (_request, reply) => reply.code(201).send({ created: true }));
  app.get("/v1/fail", async () => {
    throw new Error("handler failed");
  });
  await app.register(
    async (v2) => {
      v2.get("/items/:itemId", async () => ({ ok: true }));
    },
    { prefix: "/v2" },
  );
  await app.listen({ port: 0, host: "127.0.0.1" });
  return { handled, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
};

export const startExpressApp = async (options: AppOptions): Promise<UserApp> => {
  const app = express();
  const handled = { count: 0 };
  app.use(usageExpress({ client: options.client, apiKey: (req) => req.get("x-api-key"), enforce: options.enforce ?? false }));
  app.use((_req, _res, next) => {
    handled.count++;
    next();
  });
  const orders = express.Router();
  orders.get("/:id", (_req, res) => {
    res.json({ ok: true });
  });
  orders.post("/", (_req, res) => {
    res.status(201).json({ created: true });
  });
  orders.get("/:id/fail", () => {
    throw new Error("handler failed");
  });
  const v1 = express.Router();
  v1.use("/orders", orders);
  v1.get("/probe", (_req, res) => {
    res.json(options.client.stats());
  });
  v1.get("/ping", (_req, res) => {
    res.send("pong");
  });
  app.use("/v1", v1);
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return {
    handled,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

export const request = (base: string, path: string, key?: string, method = "GET") =>
  fetch(`${base}${path}`, { method, headers: key === undefined ? {} : { "x-api-key": key } });

export interface StoredHit {
  endpoint: string;
  method: string | null;
  status: number | null;
  ip: string;
}

/** The client's hits as stored, once `expected` of them are, in a stable order. */
export const storedHits = async (stack: Stack, client: UsageClient, clientId: string, expected: number): Promise<StoredHit[]> => {
  await client.flush();
  await stack.waitStored(clientId, expected);
  const { rows } = await sql<StoredHit>`
    SELECT endpoint, method, status, host(ip) AS ip FROM hits WHERE client_id = ${clientId} ORDER BY endpoint, status`.execute(
    stack.env.db,
  );
  return rows;
};
