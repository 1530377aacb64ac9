import type { Client, ClientList, ClientPatch, ClientQuota, RotatedKey } from "@usage/contract";
import { AppError, apiKeyDigest, type EmailCipher, type Logger, newApiKey } from "@usage/core";
import { type ClientRecord, getClient, listClients, revokeClient, rotateClientKey, updateClient } from "@usage/db";
import type { ClientDirectory } from "../auth/client-directory.ts";
import type { ReadDb } from "../infra/read-db.ts";
import type { Ingest } from "../ingest/record.ts";
import { decodeListCursor, encodeListCursor } from "./list-cursor.ts";
import type { ClientChanges } from "./propagation.ts";

/**
 * Client management behind the routes: listings and reads on the replica when it can answer
 * (emails decrypted), changes on the primary, each announced to all gateways once committed
 * (propagation.ts).
 */
export interface ClientService {
  list(query: { limit: number; cursor?: string | undefined; q?: string | undefined }): Promise<ClientList>;
  get(clientId: string): Promise<Client>;
  update(clientId: string, changes: ClientPatch): Promise<Client>;
  rotateKey(clientId: string, graceSeconds: number): Promise<RotatedKey>;
  revoke(clientId: string): Promise<Client>;
  /** Where the client's hourly quota stands, counted as the hit routes count it. */
  quota(clientId: string): Promise<ClientQuota>;
}

export interface ClientServiceDeps {
  /** `primary` for the changes; `read` for listings and reads. */
  reads: ReadDb;
  cipher: EmailCipher;
  changes: ClientChanges;
  /** The cached identities the hit routes use, so the quota read sees the limit they enforce. */
  directory: ClientDirectory;
  ingest: Pick<Ingest, "quota">;
  log: Logger;
}

const notFound = (): AppError => new AppError("NOT_FOUND", "no client with this id");

export const createClientService = ({ reads, cipher, changes, directory, ingest, log }: ClientServiceDeps): ClientService => {
  const email = (record: ClientRecord): string => {
    try {
      return cipher.decrypt(record.email_ciphertext);
    } catch (error) {
      // Written under another ENCRYPTION_KEY, or not an email at all (the seed's stand-ins):
      // one such row must not take the whole listing down.
      log.warn({ err: error, client_id: record.client_id }, "client email cannot be decrypted");
      return "";
    }
  };
  const toClient = (record: ClientRecord): Client => ({
    client_id: record.client_id,
    name: record.name,
    email: email(record),
    created_at: record.created_at.toISOString(),
    rate_limit_per_hour: record.rate_limit_per_hour,
    revoked_at: record.revoked_at?.toISOString() ?? null,
    key_created_at: record.key_created_at.toISOString(),
  });
  const found = (record: ClientRecord | undefined): ClientRecord => {
    if (record === undefined) throw notFound();
    return record;
  };

  // Postgres takes a UUID in any case, but caches and sockets are keyed by its lower-case text.
  const canonical = (clientId: string): string => clientId.toLowerCase();

  return {
    async list({ limit, cursor, q }) {
      const after = cursor === undefined ? undefined : decodeListCursor(cursor);
      if (cursor !== undefined && after === undefined) throw new AppError("VALIDATION_ERROR", "querystring/cursor is not a valid cursor");
      const match = q === undefined ? undefined : { namePrefix: q, emailDigest: cipher.digest(q) };
      const rows = await reads.read((db) => listClients(db, { limit, after, match }));
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        data: page.map(toClient),
        ...(rows.length > limit && last !== undefined
          ? { next_cursor: encodeListCursor({ createdAt: last.position, clientId: last.client_id }) }
          : {}),
      };
    },

    async get(clientId) {
      // A client registered a moment ago through another gateway may not have reached the replica.
      const record = await reads.read((db) => getClient(db, canonical(clientId)), { missed: (row) => row === undefined });
      return toClient(found(record));
    },

    async update(clientId, patch) {
      const record = found(await updateClient(reads.primary, canonical(clientId), patch));
      await changes.announce({ client_id: record.client_id, revoked: record.revoked_at !== null });
      return toClient(record);
    },

    async rotateKey(clientId, graceSeconds) {
      const apiKey = newApiKey();
      const rotation = await rotateClientKey(reads.primary, canonical(clientId), apiKeyDigest(apiKey), graceSeconds);
      if (rotation === undefined) throw notFound();
      if (rotation === "revoked") throw new AppError("CONFLICT", "this client is revoked: its keys no longer work");
      await changes.announce({ client_id: canonical(clientId), revoked: false });
      return {
        api_key: apiKey,
        key_created_at: rotation.key_created_at.toISOString(),
        previous_key_expires_at: rotation.previous_key_expires_at.toISOString(),
      };
    },

    async revoke(clientId) {
      const record = found(await revokeClient(reads.primary, canonical(clientId)));
      await changes.announce({ client_id: record.client_id, revoked: true });
      return toClient(record);
    },

    async quota(clientId) {
      const client = await directory.byId(canonical(clientId));
      if (client === undefined) throw notFound();
      const quota = await ingest.quota(client);
      return {
        client_id: client.client_id,
        limit_per_hour: quota.limit,
        used: quota.used,
        remaining: quota.remaining,
        reset_at: new Date(quota.resetAt).toISOString(),
      };
    },
  };
};
