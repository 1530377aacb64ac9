import { type Static, Type } from "typebox";
import { DateTime, NO_NUL, UUID_PATTERN, Uuid } from "./common.ts";

/** A client as the admin (or the client itself) sees it; its API key never appears. */
export const Client = Type.Object({
  client_id: Uuid,
  name: Type.String(),
  email: Type.String({ description: "Decrypted for the caller" }),
  created_at: DateTime,
  rate_limit_per_hour: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: "Hits per hour; null: the default (RATE_LIMIT_PER_HOUR); 0 blocks every hit",
  }),
  revoked_at: Type.Union([DateTime, Type.Null()]),
  key_created_at: DateTime,
});
export type Client = Static<typeof Client>;

export const ClientParams = Type.Object(
  { client_id: Type.String({ pattern: UUID_PATTERN, description: "The client's id (a UUID)" }) },
  { additionalProperties: false },
);
export type ClientParams = Static<typeof ClientParams>;

export const ClientListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 512, description: "next_cursor of the previous page" })),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 254,
        pattern: NO_NUL,
        description: "A name prefix or a whole email, case-insensitive",
      }),
    ),
  },
  { additionalProperties: false },
);
export type ClientListQuery = Static<typeof ClientListQuery>;

export const ClientList = Type.Object({
  data: Type.Array(Client, { description: "Newest first" }),
  next_cursor: Type.Optional(Type.String({ description: "Cursor of the next page; absent on the last" })),
});
export type ClientList = Static<typeof ClientList>;

export const ClientPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: NO_NUL })),
    rate_limit_per_hour: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000_000 }), Type.Null()], {
        description: "null: the default; 0 blocks every hit (429)",
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ClientPatch = Static<typeof ClientPatch>;

export const KeyRotationBody = Type.Object(
  {
    grace_seconds: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 86_400, default: 0, description: "How long the previous key keeps working" }),
    ),
  },
  { additionalProperties: false },
);
export type KeyRotationBody = Static<typeof KeyRotationBody>;

export const RotatedKey = Type.Object({
  api_key: Type.String({ description: "Shown in this answer only; store it now" }),
  key_created_at: DateTime,
  previous_key_expires_at: Type.String({
    format: "date-time",
    description: "Until then the previous key keeps working (401 after); key_created_at when grace_seconds is 0",
  }),
});
export type RotatedKey = Static<typeof RotatedKey>;

/** Where a client's hourly hit quota stands: fixed UTC hours, as the hit routes' x-ratelimit-* headers count them. */
export const ClientQuota = Type.Object(
  {
    client_id: Uuid,
    limit_per_hour: Type.Integer({
      minimum: 0,
      description: "The limit in force: the client's rate_limit_per_hour, or the default (RATE_LIMIT_PER_HOUR) when that is null",
    }),
    used: Type.Integer({ minimum: 0, description: "Hits counted in the current UTC hour (duplicates and refused hits cost nothing)" }),
    remaining: Type.Integer({ minimum: 0, description: "limit_per_hour - used, never below 0" }),
    reset_at: Type.String({ format: "date-time", description: "The top of the next UTC hour, when used starts again from 0" }),
  },
  { description: "Quotas are fixed UTC hours (not a rolling window)" },
);
export type ClientQuota = Static<typeof ClientQuota>;
