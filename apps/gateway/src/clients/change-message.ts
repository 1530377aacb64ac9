/**
 * What one gateway tells the others on the clients channel after a change it committed:
 * which client to forget, and whether it was revoked (then its sockets are closed).
 */
export interface ClientChange {
  client_id: string;
  revoked: boolean;
}

export const encodeClientChange = (change: ClientChange): string =>
  JSON.stringify({ client_id: change.client_id, revoked: change.revoked });

/** Undefined for anything that is not a change message (never thrown: a bad message must not stop the others). */
export const decodeClientChange = (message: string): ClientChange | undefined => {
  try {
    const value = JSON.parse(message) as { client_id?: unknown; revoked?: unknown } | null;
    if (typeof value !== "object" || value === null) return undefined;
    if (typeof value.client_id !== "string" || typeof value.revoked !== "boolean") return undefined;
    return { client_id: value.client_id, revoked: value.revoked };
  } catch {
    return undefined;
  }
};
