import { AppError, apiKeyDigest } from "@usage/core";
import { type ClientIdentity, findClientById, findClientByKeyDigest, findClientKeysByIds, findClientsByIds } from "@usage/db";
import { LRUCache } from "lru-cache";
import type { ReadDb } from "../infra/read-db.ts";

/**
 * Who a key or a client id belongs to, from an in-process LRU so a hot key costs no round
 * trip. A change to a client (quota, name, key, revocation) reaches every gateway as
 * `forget` (clients/plugin.ts: Redis pub/sub, and a periodic re-check in case a message is
 * lost); entries also expire after a minute, and a previous key's entry at the end of its grace.
 * Lookups read the replica when there is one; what it does not find is asked of the primary
 * before it is believed, so a client registered a moment ago through another gateway works at once.
 */
export interface ClientDirectory {
  /** A cached identity comes back synchronously: the hot path then costs no promise. */
  byApiKey(apiKey: string): Lookup;
  byId(clientId: string): Lookup;
  /** Names for many ids at once (one query for those not cached); while Postgres is away, the last known ones. */
  names(clientIds: readonly string[]): Promise<Map<string, string>>;
  /** The identities of those ids that are clients (one query for those not cached); throws while Postgres is away. */
  identities(clientIds: readonly string[]): Promise<Map<string, ClientIdentity>>;
  /** Drops all that is cached about these clients (identity and every key): the next lookup reads Postgres. */
  forget(clientIds: Iterable<string>): void;
  /** Pre-fills both caches for these clients (the most active ones, at start). */
  warm(clientIds: readonly string[]): Promise<void>;
}

const TTL_MS = 60_000;
const API_KEY_SHAPE = /^uk_[A-Za-z0-9_-]{43}$/;
const MISS_TTL_MS = 5_000;
type Entry = { client: ClientIdentity | null };
/** A key's owner; `expiresAt` (ms) for a previous key in its grace period, null for a current key. */
type KeyEntry = { client: ClientIdentity; expiresAt: number | null };
export type Lookup = ClientIdentity | undefined | Promise<ClientIdentity | undefined>;

const usable = (entry: KeyEntry | undefined): entry is KeyEntry =>
  entry !== undefined && (entry.expiresAt === null || Date.now() < entry.expiresAt);

export const createClientDirectory = (reads: ReadDb, max = 20_000): ClientDirectory => {
  // Expired entries stay until evicted, so a lookup can fall back on them while Postgres is away.
  const options = { max, ttl: TTL_MS, allowStale: false, noDeleteOnStaleGet: true, ttlAutopurge: false };
  // Each client's cached key digests, so forgetting a client reaches its keys (stale ones included).
  const keysOf = new Map<string, Set<string>>();
  const byDigest = new LRUCache<string, KeyEntry>({
    ...options,
    dispose: (entry, cacheKey) => {
      const keys = keysOf.get(entry.client.client_id);
      keys?.delete(cacheKey);
      if (keys?.size === 0) keysOf.delete(entry.client.client_id);
    },
  });
  const byId = new LRUCache<string, Entry>(options);
  const misses = new LRUCache<string, true>({ max: 10_000, ttl: MISS_TTL_MS });
  const remember = (client: ClientIdentity): void => void byId.set(client.client_id, { client });
  const rememberKey = (cacheKey: string, client: ClientIdentity, expires: Date | null): void => {
    const expiresAt = expires === null ? null : expires.getTime();
    // Never cached past the key's own end: a previous key stops at its expiry with or without a message.
    const ttl = expiresAt === null ? TTL_MS : Math.min(TTL_MS, expiresAt - Date.now());
    if (ttl <= 0) return;
    byDigest.set(cacheKey, { client, expiresAt }, { ttl });
    const keys = keysOf.get(client.client_id) ?? new Set<string>();
    keys.add(cacheKey);
    keysOf.set(client.client_id, keys);
  };
  // What a lookup falls back on while Postgres is unreachable: the last known identity.
  const stale = (key: string): ClientIdentity | undefined => {
    if (key.startsWith("i:")) return byId.get(key.slice(2), { allowStale: true })?.client ?? undefined;
    const entry = byDigest.get(key.slice(2), { allowStale: true });
    return usable(entry) ? entry.client : undefined;
  };
  // Bumped by every forget: a lookup that started before one must not cache what it read.
  let generation = 0;
  // One lookup in flight per key: a burst from a cold SDK makes one query, not hundreds.
  const inflight = new Map<string, Promise<ClientIdentity | undefined>>();
  const once = (
    key: string,
    load: (current: () => boolean) => Promise<ClientIdentity | undefined>,
  ): Promise<ClientIdentity | undefined> => {
    const running = inflight.get(key);
    if (running !== undefined) return running;
    const started = generation;
    const promise = load(() => generation === started)
      .catch((error: unknown) => {
        const client = stale(key);
        if (client !== undefined) return client;
        throw new AppError("UNAVAILABLE", "client store unavailable, retry later", { cause: error, retryAfter: 1 });
      })
      .finally(() => {
        if (inflight.get(key) === promise) inflight.delete(key);
      });
    inflight.set(key, promise);
    return promise;
  };

  const identities = async (clientIds: readonly string[]): Promise<Map<string, ClientIdentity>> => {
    const found = new Map<string, ClientIdentity>();
    // A cached miss is asked again: it lives 5 s, and a listing must not drop a client just registered.
    const missing: string[] = [];
    for (const id of clientIds) {
      const cached = byId.get(id)?.client;
      if (cached) found.set(id, cached);
      else missing.push(id);
    }
    const started = generation;
    const rows =
      missing.length === 0
        ? []
        : await reads.read((db) => findClientsByIds(db, missing), { missed: (found) => found.length < missing.length });
    for (const client of rows) {
      if (generation === started) remember(client);
      found.set(client.client_id, client);
    }
    return found;
  };

  return {
    byApiKey(apiKey) {
      // Not a key this service could have issued: no lookup at all.
      if (!API_KEY_SHAPE.test(apiKey)) return undefined;
      const digest = apiKeyDigest(apiKey);
      const cacheKey = digest.toString("base64");
      const cached = byDigest.get(cacheKey);
      if (usable(cached)) return cached.client;
      // A previous key past its grace: gone from here, and Postgres will not find it either.
      if (cached !== undefined) byDigest.delete(cacheKey);
      // Unknown keys live in a cache of their own, so a flood of them cannot evict real ones.
      if (misses.has(cacheKey)) return undefined;
      return once(`k:${cacheKey}`, async (current) => {
        const owner = await reads.read((db) => findClientByKeyDigest(db, digest), { missed: (found) => found === undefined });
        if (owner === undefined) {
          misses.set(cacheKey, true);
          return undefined;
        }
        const { key_expires_at, ...client } = owner;
        if (current()) {
          rememberKey(cacheKey, client, key_expires_at);
          remember(client);
        }
        return client;
      });
    },
    byId(clientId) {
      const cached = byId.get(clientId);
      if (cached !== undefined) return cached.client ?? undefined;
      return once(`i:${clientId}`, async (current) => {
        const client = await reads.read((db) => findClientById(db, clientId), { missed: (found) => found === undefined });
        if (current()) byId.set(clientId, { client: client ?? null }, { ttl: client === undefined ? MISS_TTL_MS : TTL_MS });
        return client;
      });
    },
    async names(clientIds) {
      try {
        return new Map(Array.from(await identities(clientIds), ([id, client]) => [id, client.name]));
      } catch {
        // A name is decoration: while Postgres is away, the last known one (or none) will do.
        const names = new Map<string, string>();
        for (const id of clientIds) {
          const stale = byId.get(id, { allowStale: true })?.client;
          if (stale) names.set(id, stale.name);
        }
        return names;
      }
    },
    identities,
    forget(clientIds) {
      const ids = new Set(clientIds);
      if (ids.size === 0) return;
      generation++;
      inflight.clear();
      for (const id of ids) {
        byId.delete(id);
        for (const cacheKey of [...(keysOf.get(id) ?? [])]) byDigest.delete(cacheKey);
      }
    },
    async warm(clientIds) {
      const started = generation;
      const keys = await reads.read((db) => findClientKeysByIds(db, clientIds));
      if (generation !== started) return;
      for (const { key_digest, key_expires_at, ...client } of keys) {
        rememberKey(key_digest.toString("base64"), client, key_expires_at);
        remember(client);
      }
    },
  };
};
