import type { Db } from "./db.ts";
import type { Client, NewClient } from "./schema.ts";

/** What the hot path needs to know about a caller; never the secrets. */
export type ClientIdentity = Pick<Client, "client_id" | "name" | "rate_limit_per_hour" | "revoked_at">;

const IDENTITY = ["client_id", "name", "rate_limit_per_hour", "revoked_at"] as const;

/** Inserts a client; returns undefined when the email digest is already registered. */
export const insertClient = async (db: Db, client: NewClient): Promise<Client | undefined> =>
  db
    .insertInto("clients")
    .values(client)
    .onConflict((oc) => oc.column("email_digest").doNothing())
    .returningAll()
    .executeTakeFirst();

export const findClientByKeyDigest = async (db: Db, digest: Buffer): Promise<ClientIdentity | undefined> =>
  db.selectFrom("clients").select(IDENTITY).where("api_key_digest", "=", digest).executeTakeFirst();

export const findClientById = async (db: Db, clientId: string): Promise<ClientIdentity | undefined> =>
  db.selectFrom("clients").select(IDENTITY).where("client_id", "=", clientId).executeTakeFirst();

export const findClientsByIds = async (db: Db, clientIds: readonly string[]): Promise<ClientIdentity[]> =>
  clientIds.length === 0 ? [] : db.selectFrom("clients").select(IDENTITY).where("client_id", "in", clientIds).execute();

export const setClientRateLimit = async (db: Db, clientId: string, perHour: number | null): Promise<boolean> => {
  const result = await db.updateTable("clients").set({ rate_limit_per_hour: perHour }).where("client_id", "=", clientId).executeTakeFirst();
  return result.numUpdatedRows > 0n;
};

export const revokeClient = async (db: Db, clientId: string): Promise<boolean> => {
  const result = await db.updateTable("clients").set({ revoked_at: new Date() }).where("client_id", "=", clientId).executeTakeFirst();
  return result.numUpdatedRows > 0n;
};

/** Identities with their key digests, to pre-fill a gateway's key cache at start. */
export const findClientKeysByIds = async (
  db: Db,
  clientIds: readonly string[],
): Promise<Array<ClientIdentity & { api_key_digest: Buffer }>> =>
  clientIds.length === 0
    ? []
    : db
        .selectFrom("clients")
        .select([...IDENTITY, "api_key_digest"])
        .where("client_id", "in", clientIds)
        .execute();
