import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, type GatewayHarness } from "./helper.ts";
import { exchange, expectRawError, onlyResponse, parseResponses } from "./raw-http.ts";

const HEADERS_TIMEOUT_MS = 400;
const REQUEST_TIMEOUT_MS = 800;

/** A gateway on a real port, with Node's timeouts short enough to wait for. */
const listening = async (): Promise<{ gw: GatewayHarness; port: number }> => {
  const gw = await buildGateway();
  // Node checks for expired requests every connectionsCheckingInterval (30 s by default),
  // read when the server starts listening.
  Object.assign(gw.app.server, {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: 50,
  });
  await gw.app.listen({ port: 0, host: "127.0.0.1" });
  return { gw, port: (gw.app.server.address() as AddressInfo).port };
};

describe("answers given before any route runs, in the contract's shape", () => {
  let gw: GatewayHarness;
  let port: number;
  beforeAll(async () => {
    ({ gw, port } = await listening());
  });
  afterAll(async () => gw.close());

  const expectClosed = (bytes: Buffer, status: number, code: string): Record<string, unknown> => {
    const response = onlyResponse(bytes);
    expect(response.headers.connection).toBe("close");
    return expectRawError(response, status, code);
  };

  it("400 VALIDATION_ERROR to Content-Length and Transfer-Encoding together (request smuggling)", async () => {
    const bytes = await exchange(port, [
      "POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    ]);
    expect(expectClosed(bytes, 400, "VALIDATION_ERROR").message).toMatch(/^malformed HTTP request/);
  });

  it("400 VALIDATION_ERROR to a Content-Length that is not a number", async () => {
    const bytes = await exchange(port, ["POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n{}"]);
    expectClosed(bytes, 400, "VALIDATION_ERROR");
  });

  it("400 VALIDATION_ERROR to a method HTTP does not have", async () => {
    const bytes = await exchange(port, ["BREW /health HTTP/1.1\r\nHost: x\r\n\r\n"]);
    expectClosed(bytes, 400, "VALIDATION_ERROR");
  });

  it("431 PAYLOAD_TOO_LARGE to headers over Node's limit", async () => {
    const bytes = await exchange(port, [`GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: ${"a".repeat(20_000)}\r\n\r\n`]);
    expectClosed(bytes, 431, "PAYLOAD_TOO_LARGE");
  });

  it("408 UNAVAILABLE to headers that do not arrive in time", async () => {
    const started = Date.now();
    const bytes = await exchange(port, ["GET /health HTTP/1.1\r\nHost: x\r\n"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expectClosed(bytes, 408, "UNAVAILABLE");
  });

  it("408 UNAVAILABLE to a body that does not arrive in time, and nothing is registered", async () => {
    const email = `slow-${Date.now()}@example.com`;
    const body = JSON.stringify({ name: "Slow", email });
    const started = Date.now();
    const bytes = await exchange(port, [
      `POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      body.slice(0, 10),
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expectClosed(bytes, 408, "UNAVAILABLE");
    const clients = await gw.db.selectFrom("clients").select("name").where("name", "=", "Slow").execute();
    expect(clients).toEqual([]);
  });

  it("400 VALIDATION_ERROR to a path that is not valid percent-encoding (FST_ERR_BAD_URL)", async () => {
    const response = onlyResponse(await exchange(port, ["GET /api/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]));
    expectRawError(response, 400, "VALIDATION_ERROR");
    expectRawError(await viaInject(gw, "/api/%zz"), 400, "VALIDATION_ERROR");
  });

  it("400 VALIDATION_ERROR to an HTTP/1.1 request without Host", async () => {
    expectClosed(await exchange(port, ["GET /health HTTP/1.1\r\n\r\n"]), 400, "VALIDATION_ERROR");
    // HTTP/1.0 has no Host requirement.
    const old = onlyResponse(await exchange(port, ["GET /health HTTP/1.0\r\n\r\n"]));
    expect(old.status, old.body).toBe(200);
  });

  it("417 VALIDATION_ERROR to an expectation other than 100-continue", async () => {
    const bytes = await exchange(port, ["POST /api/auth/token HTTP/1.1\r\nHost: x\r\nExpect: coffee\r\nContent-Length: 2\r\n\r\n{}"]);
    expectClosed(bytes, 417, "VALIDATION_ERROR");
  });

  it("still answers a well-formed request on the same server", async () => {
    const response = onlyResponse(await exchange(port, ["GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]));
    expect(response.status, response.body).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ status: "ok" });
  });
});

/** The same URL through inject, to check the router's answer without a socket. */
const viaInject = async (gw: GatewayHarness, url: string) => {
  const response = await gw.inject({ method: "GET", url });
  return { status: response.statusCode, headers: response.headers as Record<string, string>, body: response.body };
};

describe("while the gateway closes", () => {
  it("answers a request still arriving on an open connection 503 UNAVAILABLE with retry-after", async () => {
    const { gw, port } = await listening();
    const body = "{}";
    let closed: Promise<undefined> | undefined;
    // The gateway has routed the first request (Node emits "request" to Fastify first).
    const routed = once(gw.app.server, "request");
    try {
      const bytes = await exchange(port, [
        // A request in flight keeps its connection open through close()...
        `POST /api/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{`,
        () => routed,
        async () => {
          closed = gw.app.close();
          // The server stops listening right after the preClose hooks ran.
          while (gw.app.server.listening) await new Promise((resolve) => setTimeout(resolve, 10));
        },
        // ...so the next request on it still reaches the gateway, now closing.
        "}GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
      ]);
      const [first, second] = parseResponses(bytes);
      // The request that started before close() is served as usual (no key: 401).
      expectRawError(first!, 401, "UNAUTHORIZED");
      expectRawError(second!, 503, "UNAVAILABLE");
      expect(second!.headers["retry-after"]).toBe("1");
      expect(second!.headers.connection).toBe("close");
    } finally {
      await closed;
      await gw.cleanup();
    }
  });
});
