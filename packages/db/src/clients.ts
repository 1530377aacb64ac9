import { sql } from "kysely";
import type { Db } from "./db.ts";
import type { Client, NewClient } from "./schema.ts";

/** What the hot path needs to know about a caller; never the secrets. */
export type ClientIdentity = Pick<Client, "client_id" | "name" | "rate_limit_per_hour" | "revoked_at">;

/** The owner of a key, and when that key stops working (null: the current key, until rotated). */
export type KeyOwner = ClientIdentity & { key_expires_at: Date | null };

const IDENTITY = ["client_id", "name", "rate_limit_per_hour", "revoked_at"] as const;

/** Inserts a client and its first key in one statement; undefined when the email digest is already registered. */
export const insertClient = async (db: Db, client: Omit<NewClient, "updated_at">, keyDigest: Buffer): Promise<Client | undefined> =>
  db
    .with("c", (qb) =>
      qb
        .insertInto("clients")
        .values(client)
        .onConflict((oc) => oc.column("email_digest").doNothing())
        .returningAll(),
    )
    .with("k", (qb) =>
      qb
        .insertInto("client_keys")
        .columns(["client_id", "key_digest", "created_at"])
        .expression((eb) => eb.selectFrom("c").select(["c.client_id", sql.val(keyDigest).as("key_digest"), "c.created_at"])),
    )
    .selectFrom("c")
    .selectAll()
    .executeTakeFirst();

/** A key that still works (current, or previous within its grace period) and its owner. */
export const findClientByKeyDigest = async (db: Db, digest: Buffer): Promise<KeyOwner | undefined> =>
  db
    .selectFrom("client_keys as k")
    .innerJoin("clients as c", "c.client_id", "k.client_id")
    .select(["c.client_id", "c.name", "c.rate_limit_per_hour", "c.revoked_at", "k.expires_at as key_expires_at"])
    .where("k.key_digest", "=", digest)
    .where((eb) => eb.or([eb("k.expires_at", "is", null), eb("k.expires_at", ">", sql<Date>`now()`)]))
    .executeTakeFirst();

export const findClientById = async (db: Db, clientId: string): Promise<ClientIdentity | undefined> =>
  db.selectFrom("clients").select(IDENTITY).where("client_id", "=", clientId).executeTakeFirst();

export const findClientsByIds = async (db: Db, clientIds: readonly string[]): Promise<ClientIdentity[]> =>
  clientIds.length === 0 ? [] : db.selectFrom("clients").select(IDENTITY).where("client_id", "in", clientIds).execute();

/** Every working key of these clients with its owner, to pre-fill a gateway's key cache at start. */
export const findClientKeysByIds = async (db: Db, clientIds: readonly string[]): Promise<Array<KeyOwner & { key_digest: Buffer }>> =>
  clientIds.length === 0
    ? []
    : db
        .selectFrom("client_keys as k")
        .innerJoin("clients as c", "c.client_id", "k.client_id")
        .select(["c.client_id", "c.name", "c.rate_limit_per_hour", "c.revoked_at", "k.key_digest", "k.expires_at as key_expires_at"])
        .where("k.client_id", "in", clientIds)
        .where((eb) => eb.or([eb("k.expires_at", "is", null), eb("k.expires_at", ">", sql<Date>`now()`)]))
        .execute();

/**
 * The clients changed after `since` (by Postgres' clock), with that clock's reading taken in
 * the same statement: the caller's next `since`. A client never changed since it registered
 * (updated_at = created_at) is left out: no gateway can hold anything about it to forget.
 */
export const findClientsChangedSince = async (
  db: Db,
  since: Date,
): Promise<{ checkedAt: Date; changed: Array<{ client_id: string; revoked: boolean }> }> => {
  // The left join keeps one row (with now()) when nothing changed.
  const { rows } = await sql<{ checked_at: Date; client_id: string | null; revoked: boolean | null }>`
    SELECT now() AS checked_at, c.client_id, c.revoked_at IS NOT NULL AS revoked
    FROM (SELECT 1) AS one LEFT JOIN clients c ON c.updated_at > ${since} AND c.updated_at <> c.created_at`.execute(db);
  const changed = rows.flatMap((row) => (row.client_id === null ? [] : [{ client_id: row.client_id, revoked: row.revoked === true }]));
  return { checkedAt: (rows[0] as { checked_at: Date }).checked_at, changed };
};
