/**
 * What one gateway tells the others on the clients channel after a change it committed:
 * which client to forget, whether it was revoked (then its sockets are closed), and the
 * primary's WAL position after the commit, so that no gateway reads the client again from a
 * replica that has not replayed the change (absent without a replica, and from older gateways).
 */
export interface ClientChange {
  client_id: string;
  revoked: boolean;
  lsn?: string | undefined;
}

const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

export const encodeClientChange = (change: ClientChange): string =>
  JSON.stringify({ client_id: change.client_id, revoked: change.revoked, ...(change.lsn === undefined ? {} : { lsn: change.lsn }) });

/** Undefined for anything that is not a change message (never thrown: a bad message must not stop the others). */
export const decodeClientChange = (message: string): ClientChange | undefined => {
  try {
    const value = JSON.parse(message) as { client_id?: unknown; revoked?: unknown; lsn?: unknown } | null;
    if (typeof value !== "object" || value === null) return undefined;
    if (typeof value.client_id !== "string" || typeof value.revoked !== "boolean") return undefined;
    // A position of another shape is dropped, not the change: forgetting the client matters more.
    const lsn = typeof value.lsn === "string" && LSN.test(value.lsn) ? value.lsn : undefined;
    return { client_id: value.client_id, revoked: value.revoked, ...(lsn === undefined ? {} : { lsn }) };
  } catch {
    return undefined;
  }
};
