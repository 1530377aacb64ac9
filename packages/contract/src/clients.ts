import { type Static, Type } from "typebox";
import { DateTime, NO_NUL, Uuid } from "./common.ts";

export const RegisterBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: NO_NUL }),
    email: Type.String({ format: "email", maxLength: 254 }),
  },
  { additionalProperties: false },
);
export type RegisterBody = Static<typeof RegisterBody>;

export const Registered = Type.Object({
  client_id: Uuid,
  name: Type.String(),
  email: Type.String(),
  api_key: Type.String({ description: "Shown in this answer only; store it now" }),
  created_at: DateTime,
});
export type Registered = Static<typeof Registered>;

export const TokenBody = Type.Object({ api_key: Type.Optional(Type.String()) }, { additionalProperties: false });
export type TokenBody = Static<typeof TokenBody>;

export const Token = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal("Bearer"),
  expires_in: Type.Integer({ description: "Seconds until the token expires" }),
});
export type Token = Static<typeof Token>;
