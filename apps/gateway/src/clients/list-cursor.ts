import { UUID_PATTERN } from "@usage/contract";
import type { ClientPosition } from "@usage/db";

/** Opaque keyset cursor of the client listing: the (created_at to the microsecond, client_id) of the last row served. */
export const encodeListCursor = (position: ClientPosition): string =>
  Buffer.from(JSON.stringify([position.createdAt, position.clientId])).toString("base64url");

const CREATED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const CLIENT_ID = new RegExp(UUID_PATTERN);

export const decodeListCursor = (text: string): ClientPosition | undefined => {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [createdAt, clientId] = value as unknown[];
    if (typeof createdAt !== "string" || !CREATED_AT.test(createdAt) || Number.isNaN(Date.parse(createdAt))) return undefined;
    if (typeof clientId !== "string" || !CLIENT_ID.test(clientId)) return undefined;
    return { createdAt, clientId: clientId.toLowerCase() };
  } catch {
    return undefined;
  }
};
