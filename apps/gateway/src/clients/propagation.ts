import type { Logger } from "@usage/core";
import { type Db, findClientsChangedSince } from "@usage/db";
import { publish, type RedisConnection, subscribe } from "@usage/store";
import type { ClientDirectory } from "../auth/client-directory.ts";
import { CLOSE } from "../stream/stream-route.ts";
import type { UsageHub } from "../stream/usage-hub.ts";
import { type ClientChange, decodeClientChange, encodeClientChange } from "./change-message.ts";

/**
 * How a client change reaches every gateway. The gateway that committed it forgets the
 * client at once and publishes it on the clients channel; every gateway (itself included)
 * forgets what it cached about that client and, on a revocation, closes the client's
 * sockets with 4401. Pub/sub is at-most-once, so each gateway also re-reads, every
 * RECHECK_MS, the clients whose `updated_at` moved since its last look, and applies those
 * the same way: a lost message costs at most one period.
 */
export interface ClientChanges {
  /** After a change is committed: applied here, then published to the other gateways. */
  announce(change: ClientChange): Promise<void>;
  /** One safety-net pass; resolves to how many clients it forgot. */
  recheck(): Promise<number>;
  /** The subscription and the periodic re-check. */
  start(): void;
  /** Stops the re-check (waiting for a pass under way); the subscriber is closed by its owner. */
  stop(): Promise<void>;
}

export const RECHECK_MS = 2_000;
/**
 * How far back each re-check looks before the previous one's start: `updated_at` is the
 * time a transaction started, so a change may commit a little after the time it carries.
 */
const OVERLAP_MS = 10_000;

export interface ClientChangesDeps {
  db: Db;
  /** The command connection, to publish. */
  redis: RedisConnection;
  /** A connection of its own: a subscribed connection can run nothing else. */
  subscriber: RedisConnection;
  channel: string;
  directory: ClientDirectory;
  hub: UsageHub;
  log: Logger;
  recheckMs?: number;
}

export const createClientChanges = ({
  db,
  redis,
  subscriber,
  channel,
  directory,
  hub,
  log,
  recheckMs = RECHECK_MS,
}: ClientChangesDeps): ClientChanges => {
  const apply = (changes: readonly ClientChange[]): void => {
    directory.forget(changes.map((change) => change.client_id));
    for (const change of changes) if (change.revoked) hub.closeClient(change.client_id, CLOSE.unauthorized, "revoked");
  };

  const onMessage = (message: string): void => {
    const change = decodeClientChange(message);
    if (change === undefined) log.warn("ignoring a client change message of another shape");
    else apply([change]);
  };

  // Postgres' clock, as read by the previous pass (less the overlap); the first pass looks back the overlap.
  let since = new Date(Date.now() - OVERLAP_MS);
  let failing = false;
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const pass = async (): Promise<number> => {
    try {
      const { checkedAt, changed } = await findClientsChangedSince(db, since);
      since = new Date(checkedAt.getTime() - OVERLAP_MS);
      failing = false;
      apply(changed);
      return changed.length;
    } catch (error) {
      // Postgres away: every lookup fails over to the stale cache anyway; try again next period.
      if (!failing) log.warn({ err: error }, "client re-check failed");
      failing = true;
      return 0;
    }
  };

  const changes: ClientChanges = {
    async announce(change) {
      apply([change]);
      // Redis away: the other gateways learn it from their re-check instead.
      await publish(redis, channel, encodeClientChange(change)).catch((error: unknown) => {
        log.warn({ err: error, client_id: change.client_id, recheckMs }, "client change not published; other gateways re-check");
      });
    },
    recheck() {
      // One pass at a time: a slow Postgres must not pile them up.
      running ??= pass().finally(() => {
        running = undefined;
      });
      return running;
    },
    start() {
      // Not awaited: with Redis away at start, ioredis subscribes when it connects (and again after each reconnect).
      void subscribe(subscriber, channel, onMessage).catch((error: unknown) =>
        log.warn({ err: error }, "client change subscription failed"),
      );
      timer = setInterval(() => void changes.recheck(), recheckMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
  return changes;
};
