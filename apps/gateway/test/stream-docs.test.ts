import { UsageSnapshot, UsageUpdated } from "@usage/contract";
import { Ajv } from "ajv";
import ajvFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import { CLOSE } from "../src/stream/stream-route.ts";
import { buildGateway, type GatewayHarness } from "./helper.ts";

type Json = Record<string, unknown>;

/** The value a local `$ref` ("#/a/b") points at in `doc`, or undefined. */
const resolve = (doc: unknown, ref: string): unknown =>
  ref
    .replace(/^#\//, "")
    .split("/")
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<unknown>((node, part) => (node as Json | undefined)?.[part], doc);

/** Every `$ref` anywhere in `node`. */
const refsIn = (node: unknown): string[] => {
  if (Array.isArray(node)) return node.flatMap(refsIn);
  if (typeof node !== "object" || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) => (key === "$ref" && typeof value === "string" ? [value] : refsIn(value)));
};

const DOCUMENTED_CLOSE_CODES = [CLOSE.unauthorized, CLOSE.forbidden, CLOSE.tooSlow];

/** A socket through the app's own upgrade path, recording what it receives and how it closes. */
const openStream = async (gw: GatewayHarness, query: string) => {
  const messages: Json[] = [];
  let closed: (code: number) => void = () => {};
  const closedWith = new Promise<number>((done) => {
    closed = done;
  });
  const socket: WebSocket = await gw.app.injectWS(
    `/api/usage/stream${query}`,
    {},
    {
      onInit: (ws) => {
        ws.on("message", (data) => messages.push(JSON.parse(String(data)) as Json));
        ws.on("close", (code) => closed(code));
      },
    },
  );
  return { socket, messages, closedWith };
};

describe("the stream in the API documents", () => {
  let gw: GatewayHarness;
  let openapi: Json;
  let asyncapi: Json;
  beforeAll(async () => {
    gw = await buildGateway();
    const [json, async] = await Promise.all([
      gw.inject({ method: "GET", url: "/docs/json" }),
      gw.inject({ method: "GET", url: "/docs/asyncapi.json" }),
    ]);
    expect(json.statusCode, json.body).toBe(200);
    expect(async.statusCode, async.body).toBe(200);
    expect(async.headers["content-type"]).toMatch(/^application\/json/);
    openapi = json.json();
    asyncapi = async.json();
  });
  afterAll(async () => gw.close());

  describe("/docs/json (OpenAPI)", () => {
    const operation = () => (openapi.paths as Json)["/api/usage/stream"] as { get: Json };

    it("answers the upgrade 101 Switching Protocols, a plain GET 400, and nothing else", () => {
      const responses = operation().get.responses as Json;
      expect(Object.keys(responses).sort()).toEqual(["101", "400"]);
      const upgraded = responses["101"] as { description: string; headers: Json; content?: unknown };
      expect(upgraded.description).toMatch(/^Switching Protocols/);
      expect(Object.keys(upgraded.headers)).toEqual(expect.arrayContaining(["upgrade", "connection", "sec-websocket-accept"]));
      expect(upgraded.content).toBeUndefined();
    });

    it("has the token query parameter", () => {
      const parameters = operation().get.parameters as Array<{ in: string; name: string; required: boolean; schema: Json }>;
      expect(parameters).toContainEqual(
        expect.objectContaining({ in: "query", name: "token", required: false, schema: { type: "string" } }),
      );
    });

    it("lists the close codes the route closes with, and says them in the description", () => {
      const ws = operation().get["x-websocket"] as { closeCodes: Array<{ code: number; reason: string }> };
      expect(ws.closeCodes.map((c) => c.code)).toEqual(DOCUMENTED_CLOSE_CODES);
      expect(DOCUMENTED_CLOSE_CODES).toEqual([4401, 4403, 1013]);
      for (const code of DOCUMENTED_CLOSE_CODES) expect(operation().get.description).toContain(String(code));
    });

    it("has both messages as component schemas, referenced from the operation", () => {
      const schemas = (openapi.components as { schemas: Json }).schemas;
      const refs = (operation().get["x-websocket"] as { messages: Array<{ $ref: string }> }).messages.map((m) => m.$ref);
      expect(refs).toEqual(["#/components/schemas/UsageSnapshot", "#/components/schemas/UsageUpdated"]);
      expect(schemas.UsageSnapshot).toMatchObject({ required: UsageSnapshot.required, properties: { type: { enum: ["usage.snapshot"] } } });
      expect(schemas.UsageUpdated).toMatchObject({ required: UsageUpdated.required, properties: { type: { enum: ["usage.updated"] } } });
      expect(operation().get.externalDocs).toEqual(expect.objectContaining({ url: "/docs/asyncapi.json" }));
    });

    it("resolves every $ref", () => {
      for (const ref of refsIn(openapi)) expect(resolve(openapi, ref), ref).toBeDefined();
    });
  });

  describe("/docs/asyncapi.json (AsyncAPI 3)", () => {
    const channel = () => (asyncapi.channels as Json).usageStream as Json;

    it("is an AsyncAPI 3 document of the stream's channel, opened by a GET with the token in the query", () => {
      expect(asyncapi.asyncapi).toMatch(/^3\.\d+\.\d+$/);
      expect(channel().address).toBe("/api/usage/stream");
      const binding = (channel().bindings as { ws: { method: string; query: { properties: Json } } }).ws;
      expect(binding.method).toBe("GET");
      expect(binding.query.properties.token).toEqual(expect.objectContaining({ type: "string" }));
      expect(channel().description).toMatch(/101 Switching Protocols/);
      expect(((asyncapi.servers as Json).gateway as Json).protocol).toBe("ws");
    });

    it("names the close codes", () => {
      expect((channel()["x-close-codes"] as Array<{ code: number }>).map((c) => c.code)).toEqual(DOCUMENTED_CLOSE_CODES);
    });

    it("has the two messages, their payloads the contract's schemas, sent by the gateway", () => {
      const components = asyncapi.components as { schemas: Json; messages: Record<string, { name: string; payload: { $ref: string } }> };
      expect(components.schemas).toEqual(JSON.parse(JSON.stringify({ UsageSnapshot, UsageUpdated })));
      expect(Object.values(components.messages).map((m) => [m.name, resolve(asyncapi, m.payload.$ref)])).toEqual([
        ["usage.snapshot", components.schemas.UsageSnapshot],
        ["usage.updated", components.schemas.UsageUpdated],
      ]);
      const operation = (asyncapi.operations as Json).sendUsage as { action: string; channel: { $ref: string }; messages: unknown[] };
      expect(operation.action).toBe("send");
      expect(operation.channel.$ref).toBe("#/channels/usageStream");
      expect(operation.messages).toHaveLength(2);
    });

    it("resolves every $ref", () => {
      for (const ref of refsIn(asyncapi)) expect(resolve(asyncapi, ref), ref).toBeDefined();
    });
  });

  describe("says what the route does", () => {
    it("sends a snapshot that the documented schema accepts", async () => {
      const client = await gw.register();
      const stream = await openStream(gw, `?token=${await gw.tokenFor(client.api_key)}`);
      try {
        await expect.poll(() => stream.messages.length).toBe(1);
        const ajv = new Ajv({ strict: false });
        ajvFormats.default(ajv);
        const schema = (asyncapi.components as { schemas: Json }).schemas.UsageSnapshot as object;
        expect(ajv.validate(schema, stream.messages[0]), JSON.stringify(ajv.errors)).toBe(true);
        expect(stream.messages[0]).toMatchObject({ type: "usage.snapshot", data: [{ client_id: client.client_id, total_requests: 0 }] });
      } finally {
        stream.socket.terminate();
      }
    });

    it("closes with the documented 4401 on a bad token", async () => {
      const stream = await openStream(gw, "?token=not.a.token");
      expect(await stream.closedWith).toBe(4401);
    });

    it("answers a plain GET with the documented 400", async () => {
      const response = await gw.inject({ method: "GET", url: "/api/usage/stream" });
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({ code: "VALIDATION_ERROR" });
    });
  });
});
