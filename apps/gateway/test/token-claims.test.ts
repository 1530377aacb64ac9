import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { CLOCK_SKEW_SECONDS } from "../src/auth/token-claims.ts";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";
import { signToken } from "./jwt-forge.ts";

/**
 * Tokens signed with the real secret that still must be refused: the standard claims are
 * missing, malformed, or would let the token outlive what this server issues.
 */

const now = (): number => Math.floor(Date.now() / 1000);
type Claims = Record<string, unknown>;
const without =
  (name: string) =>
  ({ [name]: _gone, ...rest }: Claims): Claims =>
    rest;

/** Each case turns a valid set of claims (lifetime = JWT_TTL_SECONDS) into a bad one. */
const BAD: Array<[string, (good: Claims, ttl: number) => Claims]> = [
  ["no iss", without("iss")],
  ["no aud", without("aud")],
  ["no exp", without("exp")],
  ["no iat", without("iat")],
  ["a string iat", (good) => ({ ...good, iat: String(good.iat) })],
  ["a string exp", (good) => ({ ...good, exp: String(good.exp) })],
  ["a null iat", (good) => ({ ...good, iat: null })],
  ["exp = 1e20", (good) => ({ ...good, exp: 1e20 })],
  ["a lifetime one second longer than JWT_TTL_SECONDS", (good, ttl) => ({ ...good, exp: Number(good.iat) + ttl + 1 })],
  [
    "iat in the future beyond the clock skew",
    (good) => ({ ...good, iat: Number(good.iat) + CLOCK_SKEW_SECONDS + 60, exp: Number(good.iat) + 120 }),
  ],
];

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const read = (gw: GatewayHarness, token: string) => gw.inject({ method: "GET", url: "/api/usage/daily", headers: bearer(token) });

/** Two routes on two consumers of the verify path: the bearer guard and the hit hook. */
const ROUTES = {
  "GET /api/usage/daily": { call: read, ok: 200 },
  "POST /api/logs": {
    call: (gw: GatewayHarness, token: string) => gw.inject({ method: "POST", url: "/api/logs", headers: bearer(token), payload: hit() }),
    ok: 202,
  },
};

/** The suite, run against a gateway whose tokens are signed with `secretOf(gw)`. */
const suite = (overrides: Record<string, string>, secretOf: (gw: GatewayHarness) => string) => {
  let gw: GatewayHarness;
  let client: TestClient;
  beforeAll(async () => {
    gw = await buildGateway(overrides);
    client = await gw.register();
  });
  afterAll(async () => gw.close());

  const good = (): Claims => {
    const iat = now();
    return {
      sub: client.client_id,
      role: "client",
      iat,
      exp: iat + gw.config.jwtTtlSeconds,
      iss: gw.config.jwtIssuer,
      aud: gw.config.jwtAudience,
    };
  };

  describe.each(Object.entries(ROUTES))("%s", (_route, { call, ok }) => {
    it.each(BAD)("answers 401 to a token with %s", async (_what, spoil) => {
      const token = signToken(spoil(good(), gw.config.jwtTtlSeconds), secretOf(gw));
      expectError(await call(gw, token), 401, "UNAUTHORIZED");
    });

    it("accepts a token with the full lifetime (control)", async () => {
      const response = await call(gw, signToken(good(), secretOf(gw)));
      expect(response.statusCode, response.body).toBe(ok);
    });

    it("accepts an iat a little ahead of our clock, within the skew", async () => {
      const iat = now() + CLOCK_SKEW_SECONDS - 10;
      const response = await call(gw, signToken({ ...good(), iat, exp: iat + 60 }, secretOf(gw)));
      expect(response.statusCode, response.body).toBe(ok);
    });
  });

  describe("GET /api/usage/stream", () => {
    /** The close code of a stream opened with this token, or "open" when it stays open. */
    const streamWith = async (token: string): Promise<number | "open"> => {
      let closed: Promise<number> | undefined;
      const socket: WebSocket = await gw.app.injectWS(
        `/api/usage/stream?token=${token}`,
        {},
        {
          // Listen before the upgrade completes: a refusal may arrive with it.
          onInit: (ws: WebSocket) => {
            closed = new Promise((resolve) => ws.once("close", (code: number) => resolve(code)));
          },
        },
      );
      const first = await Promise.race([closed, new Promise<"open">((resolve) => socket.once("message", () => resolve("open")))]);
      socket.terminate();
      return first as number | "open";
    };

    it("closes with 4401 on a token without exp, or living too long", async () => {
      expect(await streamWith(signToken(without("exp")(good()), secretOf(gw)))).toBe(4401);
      expect(await streamWith(signToken({ ...good(), exp: 1e20 }, secretOf(gw)))).toBe(4401);
    });

    it("streams to a valid token (control)", async () => {
      expect(await streamWith(signToken(good(), secretOf(gw)))).toBe("open");
    });
  });
};

describe("standard claims, tokens signed with the current secret", () => suite({}, (gw) => gw.config.jwtSecret));

describe("standard claims, tokens signed with the previous secret", () => {
  const previous = "the-previous-signing-secret-0123456789abcdef";
  suite({ JWT_PREVIOUS_SECRET: previous }, () => previous);
});

describe("tokens this server issues", () => {
  let gw: GatewayHarness;
  beforeAll(async () => {
    gw = await buildGateway();
  });
  afterAll(async () => gw.close());

  it("carry the standard claims and pass the checks", async () => {
    const client = await gw.register();
    const token = await gw.tokenFor(client.api_key);
    const claims = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString());
    expect(Object.keys(claims)).toEqual(expect.arrayContaining(["sub", "role", "iat", "exp", "iss", "aud"]));
    const response = await read(gw, token);
    expect(response.statusCode, response.body).toBe(200);
  });
});
