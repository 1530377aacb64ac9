import { ALL_BUCKETS, bucketOf } from "./buckets.ts";

/**
 * Every Redis key of the service. Counting keys live in buckets (buckets.ts): a client's
 * keys, and its bucket's rank zsets and version share, carry the bucket's hash tag `{b<n>}`,
 * so one counting call per bucket stays in one Redis Cluster slot and is atomic there. The
 * scripts build keys by appending to prefixes made here (a bucket's `v`, `rd:`, `rh:`, `moving`;
 * a client's `q:`, `d:`, `ev:`, `v`): keep those in step with lua/*.lua. The operations
 * figures share `{ops}`; global cache entries and locks are used one key at a time, untagged.
 */
export interface Keys {
  /** `<prefix>:{b<n>}:`: what every key of the bucket starts with. */
  bucketPrefix(bucket: number): string;
  /**
   * The bucket's share of the global version, which is the sum of all shares: a call that
   * changes counts bumps the share of the first bucket it covers (a cluster call covers one),
   * so the sum moves on every change while a call writes only in its own slot, and one node
   * pays one INCR per call however many buckets the call spans.
   */
  versionShare(bucket: number): string;
  /** The bucket's rank zset of a UTC day (negated totals per client). */
  rankDay(bucket: number, day: string): string;
  /** The bucket's rank zset of an epoch hour (negated totals per client). */
  rankHour(bucket: number, hour: number): string;
  /** `bucket`: the client's, when the caller has it already (counting computes it once per request). */
  clientPrefix(clientId: string, bucket?: number): string;
  quota(clientId: string, hour: number): string;
  day(clientId: string, day: string): string;
  clientVersion(clientId: string): string;
  /** A cached answer: a client's next to its version, a global one on its own. */
  cache(scope: "client" | "global", clientIdOrName: string, ...parts: Array<string | number>): string;
  lock(name: string): string;
  /**
   * BullMQ's prefix of a queue: hash-tagged with `tag`, so all of a queue's keys share a slot
   * and queues of different tags may live on different primaries (queue.ts picks the tags).
   */
  queuePrefix(tag: string): string;
  rateLimitNamespace: string;
  /** Pub/sub channel of committed usage changes. */
  updatesChannel: string;
  /** Hits accepted by every gateway in one epoch second (a counter with a short TTL). */
  opsRate(epochSecond: number): string;
  /** The live processes of a role: a hash of process id → its last heartbeat (ops-heartbeat.ts). */
  opsMembers(role: "gateway" | "worker"): string;
  /** Pub/sub channel of client changes (quota, name, key, revocation): gateways forget what they cached. */
  clientsChannel: string;
}

export const createKeys = (prefix: string): Keys => {
  // Made once: a client's prefix is built for every counted request.
  const bucketPrefixes = ALL_BUCKETS.map((n) => `${prefix}:{b${n}}:`);
  const bucket = (n: number): string => bucketPrefixes[n] ?? `${prefix}:{b${n}}:`;
  const client = (clientId: string, n = bucketOf(clientId)): string => `${bucket(n)}c:${clientId}:`;
  const ops = `${prefix}:{ops}:`;
  return {
    bucketPrefix: bucket,
    versionShare: (n) => `${bucket(n)}v`,
    rankDay: (n, day) => `${bucket(n)}rd:${day}`,
    rankHour: (n, hour) => `${bucket(n)}rh:${hour}`,
    clientPrefix: (clientId, n) => client(clientId, n),
    quota: (clientId, hour) => `${client(clientId)}q:${hour}`,
    day: (clientId, day) => `${client(clientId)}d:${day}`,
    clientVersion: (clientId) => `${client(clientId)}v`,
    cache: (scope, id, ...parts) => (scope === "client" ? `${client(id)}c:${parts.join(":")}` : `${prefix}:c:${id}:${parts.join(":")}`),
    lock: (name) => `${prefix}:lock:${name}`,
    queuePrefix: (tag) => `${prefix}:{${tag}}`,
    rateLimitNamespace: `${prefix}:rl-register:`,
    updatesChannel: `${prefix}:usage-updated`,
    opsRate: (epochSecond) => `${ops}rate:${epochSecond}`,
    opsMembers: (role) => `${ops}${role}s`,
    clientsChannel: `${prefix}:clients-changed`,
  };
};
