import { type Static, Type } from "typebox";
import { DateTime, Day, UUID_PATTERN, Uuid } from "./common.ts";
import { UsageChange } from "./usage-changes.ts";

/** How many clients one `client_ids` read may name. */
export const MAX_DAILY_CLIENT_IDS = 100;
const ONE_UUID = UUID_PATTERN.slice(1, -1);

export const DailyQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: "Admin paging; not with client_ids" })),
    cursor: Type.Optional(Type.String({ maxLength: 512, description: "next_cursor of the previous page; not with client_ids" })),
    client_ids: Type.Optional(
      Type.String({
        pattern: `^${ONE_UUID}(,${ONE_UUID}){0,${MAX_DAILY_CLIENT_IDS - 1}}$`,
        maxLength: MAX_DAILY_CLIENT_IDS * 37 - 1,
        description:
          `Admin only (a client token that passes it: 403). 1 to ${MAX_DAILY_CLIENT_IDS} comma-separated client ids: ` +
          "one row per id that is a client, in the order given (each id once), clients without hits zero-filled, " +
          "unknown ids left out; next_cursor null. Not with limit or cursor. For a dashboard that lists clients " +
          "with GET /api/clients and then reads their 7-day totals in one call.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type DailyQuery = Static<typeof DailyQuery>;

export const DayCount = Type.Object({ date: Day, total_requests: Type.Integer() });

export const ClientDaily = Type.Object({
  client_id: Uuid,
  name: Type.String(),
  days: Type.Array(DayCount, { minItems: 7, maxItems: 7 }),
});
export type ClientDaily = Static<typeof ClientDaily>;

export const DailyUsage = Type.Object({
  data: Type.Array(ClientDaily),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: "Cursor of the next page (admin), null on the last" }),
});
export type DailyUsage = Static<typeof DailyUsage>;

export const TopQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 3 })) },
  { additionalProperties: false },
);
export type TopQuery = Static<typeof TopQuery>;

export const TopClient = Type.Object({ client_id: Uuid, name: Type.String(), total_requests: Type.Integer() });

export const TopUsage = Type.Object({
  window: Type.Object({ from: DateTime, to: DateTime }),
  data: Type.Array(TopClient),
});
export type TopUsage = Static<typeof TopUsage>;

/** A stream message: a committed change (see usage-changes.ts) with its type. */
export const UsageUpdated = Type.Object({ type: Type.Literal("usage.updated"), ...UsageChange.properties });
export type UsageUpdated = Static<typeof UsageUpdated>;

export const UsageSnapshot = Type.Object({
  type: Type.Literal("usage.snapshot"),
  date: Day,
  data: Type.Array(Type.Object({ client_id: Uuid, total_requests: Type.Integer() })),
});
export type UsageSnapshot = Static<typeof UsageSnapshot>;
