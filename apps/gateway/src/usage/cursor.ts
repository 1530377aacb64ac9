import type { RankCursor } from "@usage/db";

/** Opaque keyset cursor: the (total, client_id) of the last row served. */
export const encodeCursor = (cursor: RankCursor): string =>
  Buffer.from(JSON.stringify([cursor.total, cursor.clientId])).toString("base64url");

export const decodeCursor = (text: string): RankCursor | undefined => {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [total, clientId] = value as unknown[];
    if (typeof total !== "number" || !Number.isInteger(total) || total < 0) return undefined;
    if (typeof clientId !== "string" || !/^[0-9a-f-]{36}$/i.test(clientId)) return undefined;
    return { total, clientId: clientId.toLowerCase() };
  } catch {
    return undefined;
  }
};

/** Index of the first row strictly after the cursor in (total desc, client_id asc) order. */
export const startAfter = (rows: ReadonlyArray<{ clientId: string; total: number }>, cursor: RankCursor | undefined): number => {
  if (cursor === undefined) return 0;
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const row = rows[mid] as { clientId: string; total: number };
    const before = row.total > cursor.total || (row.total === cursor.total && row.clientId <= cursor.clientId);
    if (before) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};
