import { AppError, apiKeyDigest } from "@usage/core";
import { type ClientIdentity, type Db, findClientById, findClientByKeyDigest, findClientKeysByIds, findClientsByIds } from "@usage/db";
import { LRUCache } from "lru-cache";

/**
 * Who a key or a client id belongs to, from an in-process LRU so a hot key costs no round
 * trip. Entries live a minute: a revoked key stops working within that time everywhere.
 */
export interface ClientDirectory {
  /** A cached identity comes back synchronously: the hot path then costs no promise. */
  byApiKey(apiKey: string): Lookup;
  byId(clientId: string): Lookup;
  /** Names for many ids at once (one query for those not cached). */
  names(clientIds: readonly string[]): Promise<Map<string, string>>;
  forget(clientId: string): void;
  /** Pre-fills both caches for these clients (the most active ones, at start). */
  warm(clientIds: readonly string[]): Promise<void>;
}

const TTL_MS = 60_000;
const API_KEY_SHAPE = /^uk_[A-Za-z0-9_-]{43}$/;
const MISS_TTL_MS = 5_000;
type Entry = { client: ClientIdentity | null };
export type Lookup = ClientIdentity | undefined | Promise<ClientIdentity | undefined>;

export const createClientDirectory = (db: Db, max = 20_000): ClientDirectory => {
  // Expired entries stay until evicted, so a lookup can fall back on them while Postgres is away.
  const options = { max, ttl: TTL_MS, allowStale: false, noDeleteOnStaleGet: true, ttlAutopurge: false };
  const byDigest = new LRUCache<string, Entry>(options);
  const byId = new LRUCache<string, Entry>(options);
  const misses = new LRUCache<string, true>({ max: 10_000, ttl: MISS_TTL_MS });
  const remember = (client: ClientIdentity): void => void byId.set(client.client_id, { client });
  // One lookup in flight per key: a burst from a cold SDK makes one query, not hundreds.
  const inflight = new Map<string, Promise<ClientIdentity | undefined>>();
  const once = (key: string, load: () => Promise<ClientIdentity | undefined>): Promise<ClientIdentity | undefined> => {
    const running = inflight.get(key);
    if (running !== undefined) return running;
    const promise = load()
      .catch((error: unknown) => {
        // Postgres unreachable: a known client keeps working on its last known identity.
        const stale = (key.startsWith("k:") ? byDigest : byId).get(key.slice(2), { allowStale: true })?.client;
        if (stale) return stale;
        throw new AppError("UNAVAILABLE", "client store unavailable, retry later", { cause: error, retryAfter: 1 });
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, promise);
    return promise;
  };

  return {
    byApiKey(apiKey) {
      // Not a key this service could have issued: no lookup at all.
      if (!API_KEY_SHAPE.test(apiKey)) return undefined;
      const digest = apiKeyDigest(apiKey);
      const cacheKey = digest.toString("base64");
      const cached = byDigest.get(cacheKey);
      if (cached !== undefined) return cached.client ?? undefined;
      // Unknown keys live in a cache of their own, so a flood of them cannot evict real ones.
      if (misses.has(cacheKey)) return undefined;
      return once(`k:${cacheKey}`, async () => {
        const client = await findClientByKeyDigest(db, digest);
        if (client === undefined) misses.set(cacheKey, true);
        else {
          byDigest.set(cacheKey, { client });
          remember(client);
        }
        return client;
      });
    },
    byId(clientId) {
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
      try {
        for (const client of await findClientsByIds(db, missing)) {
          remember(client);
          names.set(client.client_id, client.name);
        }
      } catch {
        // A name is decoration: while Postgres is away, the last known one (or none) will do.
        for (const id of missing) {
          const stale = byId.get(id, { allowStale: true })?.client;
          if (stale) names.set(id, stale.name);
        }
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
