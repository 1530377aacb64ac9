import { createHmac } from "node:crypto";

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Builds a JWT by hand, to present the server with tokens it must refuse. */
export const forgeToken = (header: Record<string, unknown>, claims: Record<string, unknown>, secret?: string): string => {
  const body = `${b64(header)}.${b64(claims)}`;
  if (secret === undefined) return `${body}.`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
};

/** An HS256 token with exactly these claims: what a holder of the secret could sign. */
export const signToken = (claims: Record<string, unknown>, secret: string): string =>
  forgeToken({ alg: "HS256", typ: "JWT" }, claims, secret);
