import { type ExpressionBuilder, sql, type Transaction } from "kysely";
import type { Db } from "./db.ts";
import type { Client, Database } from "./schema.ts";

/**
 * Client management (the admin's listing and changes, a client's key rotation). Every change
 * sets `updated_at`, which gateways poll as the safety net behind pub/sub invalidation.
 */

/** A client as the admin sees it: no key digest, the email still encrypted, and its current key's age. */
export type ClientRecord = Pick<Client, "client_id" | "name" | "email_ciphertext" | "rate_limit_per_hour" | "created_at" | "revoked_at"> & {
  key_created_at: Date;
};

/** Where a page of the listing ends: created_at to the microsecond (as Postgres prints it), then client_id. */
export interface ClientPosition {
  createdAt: string;
  clientId: string;
}

export interface ClientListing {
  limit: number;
  after?: ClientPosition | undefined;
  /** A name prefix or a whole email (by its keyed digest), both case-insensitive. */
  match?: { namePrefix: string; emailDigest: Buffer } | undefined;
}

export interface ClientChanges {
  name?: string | undefined;
  rate_limit_per_hour?: number | null | undefined;
}

export interface KeyRotation {
  key_created_at: Date;
  previous_key_expires_at: Date;
}

type WithClient = ExpressionBuilder<Database & { c: Database["clients"] }, "c">;

const RECORD = ["c.client_id", "c.name", "c.email_ciphertext", "c.rate_limit_per_hour", "c.created_at", "c.revoked_at"] as const;

/** When the client's current key was issued (every client has exactly one current key). */
const keyCreatedAt = (eb: WithClient) =>
  eb
    .selectFrom("client_keys as k")
    .select("k.created_at")
    .whereRef("k.client_id", "=", "c.client_id")
    .where("k.expires_at", "is", null)
    .$asScalar()
    .$notNull()
    .as("key_created_at");

/** A LIKE pattern matching `prefix` literally at the start. */
const prefixPattern = (prefix: string): string => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Newest first; one row more than `limit`, so the caller knows whether another page follows. */
export const listClients = async (db: Db, { limit, after, match }: ClientListing): Promise<Array<ClientRecord & { position: string }>> =>
  db
    .selectFrom("clients as c")
    .select((eb) => [
      ...RECORD,
      keyCreatedAt(eb),
      sql<string>`to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as("position"),
    ])
    .$if(after !== undefined, (qb) =>
      qb.where(sql<boolean>`(c.created_at, c.client_id) < (${after?.createdAt}::timestamptz, ${after?.clientId}::uuid)`),
    )
    .$if(match !== undefined, (qb) =>
      qb.where((eb) =>
        eb.or([
          eb("c.email_digest", "=", match?.emailDigest as Buffer),
          sql<boolean>`lower(c.name) LIKE lower(${prefixPattern(match?.namePrefix ?? "")})`,
        ]),
      ),
    )
    .orderBy("c.created_at", "desc")
    .orderBy("c.client_id", "desc")
    .limit(limit + 1)
    .execute();

export const getClient = async (db: Db, clientId: string): Promise<ClientRecord | undefined> =>
  db
    .selectFrom("clients as c")
    .select((eb) => [...RECORD, keyCreatedAt(eb)])
    .where("c.client_id", "=", clientId)
    .executeTakeFirst();

/** Renames and/or sets the quota (null: the default); undefined for an unknown client. */
export const updateClient = async (db: Db, clientId: string, changes: ClientChanges): Promise<ClientRecord | undefined> =>
  db
    .updateTable("clients as c")
    .set({
      ...(changes.name === undefined ? {} : { name: changes.name }),
      ...(changes.rate_limit_per_hour === undefined ? {} : { rate_limit_per_hour: changes.rate_limit_per_hour }),
      updated_at: sql`now()`,
    })
    .where("c.client_id", "=", clientId)
    .returning((eb) => [...RECORD, keyCreatedAt(eb)])
    .executeTakeFirst();

/** Sets revoked_at once: revoking again changes nothing and returns the first revoked_at. */
export const revokeClient = async (db: Db, clientId: string): Promise<ClientRecord | undefined> =>
  db
    .updateTable("clients as c")
    .set({
      revoked_at: sql`coalesce(c.revoked_at, now())`,
      updated_at: sql`CASE WHEN c.revoked_at IS NULL THEN now() ELSE c.updated_at END`,
    })
    .where("c.client_id", "=", clientId)
    .returning((eb) => [...RECORD, keyCreatedAt(eb)])
    .executeTakeFirst();

const inTransaction = <T>(db: Db, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> =>
  db.isTransaction ? work(db as Transaction<Database>) : db.transaction().execute(work);

/**
 * Makes `keyDigest` the client's current key. Every key that still worked (the previous
 * current one, and any older one still in a grace period) works until now + graceSeconds at
 * the latest: after `previous_key_expires_at` only the new key does. Keys already expired
 * are deleted. Undefined for an unknown client, "revoked" for a revoked one.
 */
export const rotateClientKey = async (
  db: Db,
  clientId: string,
  keyDigest: Buffer,
  graceSeconds: number,
): Promise<KeyRotation | "revoked" | undefined> =>
  inTransaction(db, async (trx) => {
    // The row lock orders concurrent rotations and revocations of one client.
    const client = await trx
      .selectFrom("clients")
      .select(["revoked_at", sql<Date>`now()`.as("now"), sql<Date>`now() + make_interval(secs => ${graceSeconds})`.as("expires")])
      .where("client_id", "=", clientId)
      .forUpdate()
      .executeTakeFirst();
    if (client === undefined) return undefined;
    if (client.revoked_at !== null) return "revoked";
    await trx.deleteFrom("client_keys").where("client_id", "=", clientId).where("expires_at", "<=", sql<Date>`now()`).execute();
    await trx
      .updateTable("client_keys")
      .set({ expires_at: sql`least(coalesce(expires_at, 'infinity'), ${client.expires}::timestamptz)` })
      .where("client_id", "=", clientId)
      .execute();
    await trx.insertInto("client_keys").values({ client_id: clientId, key_digest: keyDigest, created_at: client.now }).execute();
    await trx.updateTable("clients").set({ updated_at: sql`now()` }).where("client_id", "=", clientId).execute();
    return { key_created_at: client.now, previous_key_expires_at: client.expires };
  });
