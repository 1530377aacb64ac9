import { apiKeyDigest } from "@usage/core";
import { type ClientIdentity, type Db, findClientById, findClientByKeyDigest, findClientKeysByIds, findClientsByIds } from "@usage/db";
import { LRUCache } from "lru-cache";

/**
 * Who a key or a client id belongs to, from an in-process LRU so a hot key costs no round
 * trip. Entries live a minute: a revoked key stops working within that time everywhere.
 */
export interface ClientDirectory {
  byApiKey(apiKey: string): Promise<ClientIdentity | undefined>;
  byId(clientId: string): Promise<ClientIdentity | undefined>;
  /** Names for many ids at once (one query for those not cached). */
  names(clientIds: readonly string[]): Promise<Map<string, string>>;
  forget(clientId: string): void;
  /** Pre-fills both caches for these clients (the most active ones, at start). */
  warm(clientIds: readonly string[]): Promise<void>;
}

const TTL_MS = 60_000;
const MISS_TTL_MS = 5_000;
type Entry = { client: ClientIdentity | null };

export const createClientDirectory = (db: Db, max = 20_000): ClientDirectory => {
  const byDigest = new LRUCache<string, Entry>({ max, ttl: TTL_MS });
  const byId = new LRUCache<string, Entry>({ max, ttl: TTL_MS });
  const remember = (client: ClientIdentity): void => void byId.set(client.client_id, { client });
  // One lookup in flight per key: a burst from a cold SDK makes one query, not hundreds.
  const inflight = new Map<string, Promise<ClientIdentity | undefined>>();
  const once = (key: string, load: () => Promise<ClientIdentity | undefined>): Promise<ClientIdentity | undefined> => {
    const running = inflight.get(key);
    if (running !== undefined) return running;
    const promise = load().finally(() => inflight.delete(key));
    inflight.set(key, promise);
    return promise;
  };

  return {
    async byApiKey(apiKey) {
      const digest = apiKeyDigest(apiKey);
      const cacheKey = digest.toString("base64");
      const cached = byDigest.get(cacheKey);
      if (cached !== undefined) return cached.client ?? undefined;
      return once(`k:${cacheKey}`, async () => {
        const client = await findClientByKeyDigest(db, digest);
        byDigest.set(cacheKey, { client: client ?? null }, { ttl: client === undefined ? MISS_TTL_MS : TTL_MS });
        if (client !== undefined) remember(client);
        return client;
      });
    },
    async byId(clientId) {
      const cached = byId.get(clientId);
      if (cached !== undefined) return cached.client ?? undefined;
      return once(`i:${clientId}`, async () => {
        const client = await findClientById(db, clientId);
        byId.set(clientId, { client: client ?? null }, { ttl: client === undefined ? MISS_TTL_MS : TTL_MS });
        return client;
      });
    },
    async names(clientIds) {
      const names = new Map<string, string>();
      const missing: string[] = [];
      for (const id of clientIds) {
        const cached = byId.get(id)?.client;
        if (cached) names.set(id, cached.name);
        else missing.push(id);
      }
      for (const client of await findClientsByIds(db, missing)) {
        remember(client);
        names.set(client.client_id, client.name);
      }
      return names;
    },
    forget(clientId) {
      byId.delete(clientId);
    },
    async warm(clientIds) {
      for (const { api_key_digest, ...client } of await findClientKeysByIds(db, clientIds)) {
        byDigest.set(api_key_digest.toString("base64"), { client });
        remember(client);
      }
    },
  };
};
