import { type Static, Type } from "typebox";

export const Health = Type.Object({ status: Type.Literal("ok") });

const Check = Type.Enum(["up", "down"]);

export const Readiness = Type.Object({
  status: Type.Enum(["ok", "degraded"]),
  checks: Type.Object({ postgres: Check, redis: Check }),
});
export type Readiness = Static<typeof Readiness>;
