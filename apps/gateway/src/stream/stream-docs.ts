import { ErrorBody, UsageSnapshot, UsageUpdated } from "@usage/contract";
import { Type } from "typebox";
import type { CLOSE } from "./stream-route.ts";

/**
 * What a client of GET /api/usage/stream needs to know, once, for both documents: the
 * OpenAPI route (/docs/json) and the AsyncAPI 3 document (/docs/asyncapi.json). The close
 * codes come from the route's own CLOSE table, passed in (not imported: the route imports this).
 */
export const STREAM_PATH = "/api/usage/stream";
export const ASYNCAPI_PATH = "/docs/asyncapi.json";

/** The codes the server closes a socket with, by their name in the route's CLOSE table. */
export type CloseCodes = Pick<typeof CLOSE, "unauthorized" | "forbidden" | "tooSlow">;

export interface CloseCode {
  code: number;
  /** The close frame's reason text. */
  reason: string;
  meaning: string;
}

export const closeCodes = (close: CloseCodes): CloseCode[] => [
  {
    code: close.unauthorized,
    reason: "unauthorized",
    meaning:
      "missing, malformed, expired or badly signed token, or a revoked client (the socket is closed right after the upgrade, " +
      "or when the client is revoked); do not retry with it",
  },
  {
    code: close.forbidden,
    reason: "forbidden",
    meaning: "an admin token from an address outside ADMIN_IP_ALLOWLIST",
  },
  {
    code: close.tooSlow,
    reason: "too slow",
    meaning:
      "the client read too slowly (over 1 MiB unsent), or (reason 'try again later') the client store was unreachable " +
      "at the upgrade; reconnect, and the new snapshot catches up",
  },
];

/** The access token, as the query parameter browsers can send (they cannot set headers on a WebSocket). */
export const StreamQuery = Type.Object({
  token: Type.Optional(
    Type.String({
      description:
        "Access token (the `access_token` of POST /api/auth/token). Alternatively send `authorization: Bearer <token>`; " +
        "the query parameter wins when both are present.",
    }),
  ),
});

/** Named as in both documents' components. */
export const MESSAGE_SCHEMAS = { UsageSnapshot, UsageUpdated } as const;

export const MESSAGES_TEXT =
  "One `usage.snapshot` on connect (today's committed totals the token may see: a client itself, the admin every client), " +
  "then one `usage.updated` per client and day whose committed total changed, within 2 s of the hits' 202. " +
  "Delivery is at most once (Redis pub/sub): after a reconnect, the new snapshot is the truth.";

export const LIFECYCLE_TEXT =
  "The server pings every 30 s and drops a socket that missed the previous pong; it ignores what the client sends " +
  "(a frame over 4096 bytes closes with 1009). A gateway shutting down closes its sockets (without a code: 1005 at " +
  "the client); reconnect, with backoff.";

const closeText = (codes: readonly CloseCode[]): string =>
  codes.map(({ code, reason, meaning }) => `${code} "${reason}": ${meaning}.`).join(" ");

/**
 * The Fastify schema of the route: an upgrade answered 101, the token parameter, a plain GET
 * answered 400, and the messages and close codes as an `x-websocket` extension that points at
 * the component schemas (OpenAPI has no words for frames or close codes).
 */
export const streamRouteSchema = (close: CloseCodes) => {
  const codes = closeCodes(close);
  return {
    tags: ["usage"],
    operationId: "usageStream",
    summary: "WebSocket: usage.snapshot on connect, then usage.updated after each committed batch",
    description:
      "A WebSocket (RFC 6455): this GET carries `Upgrade: websocket` and is answered `101 Switching Protocols`. " +
      `${MESSAGES_TEXT} Messages are JSON text frames: components/schemas/UsageSnapshot and UsageUpdated. ` +
      `Close codes: ${closeText(codes)} ${LIFECYCLE_TEXT} The same as an AsyncAPI 3 document: ${ASYNCAPI_PATH}.`,
    externalDocs: { description: "AsyncAPI 3 document of this stream", url: ASYNCAPI_PATH },
    querystring: StreamQuery,
    response: {
      101: {
        type: "null",
        description: "Switching Protocols: the socket is open; the server sends usage.snapshot, then usage.updated messages",
        headers: {
          upgrade: { type: "string", enum: ["websocket"] },
          connection: { type: "string", enum: ["Upgrade"] },
          "sec-websocket-accept": { type: "string", description: "RFC 6455 handshake answer to sec-websocket-key" },
        },
      },
      400: { ...ErrorBody, description: "Not a WebSocket upgrade (a plain GET), or a malformed query" },
    },
    "x-websocket": {
      messages: Object.keys(MESSAGE_SCHEMAS).map((name) => ({ $ref: `#/components/schemas/${name}` })),
      closeCodes: codes,
      asyncapi: ASYNCAPI_PATH,
    },
    hide: false,
  };
};

/**
 * A TypeBox (JSON Schema) object as an OpenAPI 3.0 schema, as @fastify/swagger converts route
 * schemas: `const` becomes a one-value `enum`, `examples` the single `example`.
 */
export const toOpenApi30 = (schema: unknown): unknown => {
  if (Array.isArray(schema)) return schema.map(toOpenApi30);
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "const") out.enum = [value];
    else if (key === "examples" && Array.isArray(value)) out.example = value[0];
    else out[key] = toOpenApi30(value);
  }
  return out;
};
