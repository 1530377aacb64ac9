import { type CloseCodes, closeCodes, LIFECYCLE_TEXT, MESSAGE_SCHEMAS, MESSAGES_TEXT, STREAM_PATH, StreamQuery } from "./stream-docs.ts";

/** Where the document is served from, so its server entry names that gateway. */
export interface ServedFrom {
  host: string;
  secure: boolean;
}

const EXAMPLE_CLIENT = "8d4c1f0e-2b7a-4c55-9a1e-3f2d6c7b8a90";
const EXAMPLE_DAY = "2026-11-22";

/** A plain JSON copy of a TypeBox schema (no symbols, nothing shared with the validator's). */
const json = (schema: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;

/**
 * The live stream as an AsyncAPI 3.0 document, built from the same TypeBox schemas the
 * gateway sends and the same close codes it closes with. It describes the gateway: the
 * operation is `send` (the gateway sends, a dashboard receives).
 */
export const asyncApiDocument = (close: CloseCodes, from: ServedFrom) => {
  const codes = closeCodes(close);
  const message = (name: string, schema: keyof typeof MESSAGE_SCHEMAS, summary: string, example: Record<string, unknown>) => ({
    name,
    title: name,
    summary,
    contentType: "application/json",
    payload: { $ref: `#/components/schemas/${schema}` },
    examples: [{ name: "example", payload: example }],
  });
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Usage metering: live usage stream",
      version: "1.0.0",
      description:
        `The WebSocket at ${STREAM_PATH}. ${MESSAGES_TEXT} Close codes: ` +
        `${codes.map(({ code, reason }) => `${code} (${reason})`).join(", ")}; see the channel. ${LIFECYCLE_TEXT} ` +
        "The HTTP API is described by the OpenAPI document at /docs/json.",
    },
    defaultContentType: "application/json",
    servers: {
      gateway: {
        host: from.host,
        protocol: from.secure ? "wss" : "ws",
        description: "The gateway that served this document (wss when it serves TLS).",
      },
    },
    channels: {
      usageStream: {
        address: STREAM_PATH,
        title: "Committed usage of the clients the token may see",
        description:
          "Open with a GET that upgrades to a WebSocket (answered 101 Switching Protocols). Close codes the server uses: " +
          codes.map(({ code, reason, meaning }) => `${code} "${reason}": ${meaning}.`).join(" "),
        messages: {
          usageSnapshot: { $ref: "#/components/messages/usageSnapshot" },
          usageUpdated: { $ref: "#/components/messages/usageUpdated" },
        },
        bindings: {
          ws: {
            method: "GET",
            query: json(StreamQuery),
            headers: {
              type: "object",
              properties: { authorization: { type: "string", description: "`Bearer <token>`: the alternative to `?token=`" } },
            },
            bindingVersion: "0.1.0",
          },
        },
        "x-close-codes": codes,
      },
    },
    operations: {
      sendUsage: {
        action: "send",
        channel: { $ref: "#/channels/usageStream" },
        title: "Usage to a dashboard",
        summary: "usage.snapshot once on connect, then usage.updated after each commit",
        security: [{ $ref: "#/components/securitySchemes/queryToken" }, { $ref: "#/components/securitySchemes/bearer" }],
        messages: [{ $ref: "#/channels/usageStream/messages/usageSnapshot" }, { $ref: "#/channels/usageStream/messages/usageUpdated" }],
      },
    },
    components: {
      schemas: Object.fromEntries(Object.entries(MESSAGE_SCHEMAS).map(([name, schema]) => [name, json(schema)])),
      messages: {
        usageSnapshot: message("usage.snapshot", "UsageSnapshot", "Today's committed totals, sent once on connect", {
          type: "usage.snapshot",
          date: EXAMPLE_DAY,
          data: [{ client_id: EXAMPLE_CLIENT, total_requests: 1234 }],
        }),
        usageUpdated: message("usage.updated", "UsageUpdated", "A client's committed total for a day moved", {
          type: "usage.updated",
          client_id: EXAMPLE_CLIENT,
          date: EXAMPLE_DAY,
          delta: 3,
          total_requests: 1237,
        }),
      },
      securitySchemes: {
        queryToken: {
          type: "httpApiKey",
          name: "token",
          in: "query",
          description: "Access token from POST /api/auth/token, as `?token=` (what a browser can send)",
        },
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "The same token as `authorization: Bearer`" },
      },
    },
  };
};
