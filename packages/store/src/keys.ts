/**
 * Every Redis key of the service. A client's keys share the hash tag `{clientId}`, the
 * global rankings share `{rank}` and the operations figures share `{ops}`, so each group
 * lives in one slot under Redis Cluster.
 */
export interface Keys {
  clientPrefix(clientId: string): string;
  rankPrefix: string;
  quota(clientId: string, hour: number): string;
  day(clientId: string, day: string): string;
  clientVersion(clientId: string): string;
  globalVersion: string;
  rankDay(day: string): string;
  rankHour(hour: number): string;
  scratch(name: string): string;
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
  const client = (clientId: string): string => `${prefix}:{${clientId}}:`;
  const rank = `${prefix}:{rank}:`;
  const ops = `${prefix}:{ops}:`;
  return {
    clientPrefix: client,
    rankPrefix: rank,
    quota: (clientId, hour) => `${client(clientId)}q:${hour}`,
    day: (clientId, day) => `${client(clientId)}d:${day}`,
    clientVersion: (clientId) => `${client(clientId)}v`,
    globalVersion: `${rank}v`,
    rankDay: (day) => `${rank}d:${day}`,
    rankHour: (hour) => `${rank}h:${hour}`,
    scratch: (name) => `${rank}tmp:${name}`,
    cache: (scope, id, ...parts) => (scope === "client" ? `${client(id)}c:${parts.join(":")}` : `${rank}c:${id}:${parts.join(":")}`),
    lock: (name) => `${prefix}:lock:${name}`,
    queuePrefix: (tag) => `${prefix}:{${tag}}`,
    rateLimitNamespace: `${prefix}:rl-register:`,
    updatesChannel: `${prefix}:usage-updated`,
    opsRate: (epochSecond) => `${ops}rate:${epochSecond}`,
    opsMembers: (role) => `${ops}${role}s`,
    clientsChannel: `${prefix}:clients-changed`,
  };
};
