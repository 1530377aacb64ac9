import { type Static, Type } from "typebox";
import { DateTime, NO_NUL, UUID_PATTERN, Uuid } from "./common.ts";

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"] as const;

const hitProperties = {
  ip: Type.String({ format: "ip", description: "IPv4 or IPv6 address of the caller of the metered API" }),
  endpoint: Type.String({ minLength: 1, maxLength: 2048, pattern: `^/${NO_NUL.slice(1)}`, description: "Path that was hit" }),
  timestamp: Type.String({
    format: "date-time",
    description: "When the hit happened (RFC 3339). At most 5 minutes ahead, at most MAX_EVENT_AGE_DAYS old.",
  }),
  method: Type.Optional(Type.Enum([...HTTP_METHODS])),
  status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
  event_id: Type.Optional(
    Type.String({ pattern: UUID_PATTERN, description: "Idempotency key (a UUID, any case): a re-send within 24 h is counted once" }),
  ),
};

export const Hit = Type.Object(hitProperties, { additionalProperties: false });
export type Hit = Static<typeof Hit>;

export const SingleHitBody = Type.Object(
  { api_key: Type.Optional(Type.String({ description: "The API key, for SDKs that cannot set the x-api-key header" })), ...hitProperties },
  { additionalProperties: false },
);
export type SingleHitBody = Static<typeof SingleHitBody>;

export const MAX_BATCH_HITS = 1000;

export const BatchBody = Type.Object({ hits: Type.Array(Hit, { minItems: 1, maxItems: MAX_BATCH_HITS }) }, { additionalProperties: false });
export type BatchBody = Static<typeof BatchBody>;

export const HitAccepted = Type.Object({ id: Uuid, duplicate: Type.Boolean() });
export type HitAccepted = Static<typeof HitAccepted>;

export const BatchAccepted = Type.Object({
  accepted: Type.Integer({ description: "Hits newly recorded" }),
  duplicates: Type.Integer({ description: "Hits already recorded (same event_id within 24 h)" }),
  ids: Type.Array(Uuid, { description: "One id per hit, in input order" }),
});
export type BatchAccepted = Static<typeof BatchAccepted>;

export { DateTime };
