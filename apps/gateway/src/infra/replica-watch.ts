import type { Logger } from "@usage/core";
import { createDb, type Db, parseLsn, replayPosition, walPosition } from "@usage/db";

/** A read waits this long for a replica connection before the primary answers it instead. */
const CONNECT_TIMEOUT_MS = 1_000;
/** A replica query past this is given up for the primary: a hung server must not hang requests. */
const QUERY_TIMEOUT_MS = 2_000;
/** An unreachable replica is tried again this often, by a probe rather than by a request. */
const RETRY_MS = 1_000;
/** This often the replica must catch up with where the primary then stood: it bounds how stale a replica read can be. */
export const FENCE_EVERY_MS = 2_000;
/** While the replica is behind, how often it is asked how far it has replayed. */
const CATCH_UP_PROBE_MS = 20;
/** Past any WAL position (they are 64-bit). */
const BEYOND_ANY_POSITION = 1n << 64n;

/**
 * What a gateway knows of its replica: whether it answers, how far it has replayed, and the
 * WAL position it must have replayed before it may answer (the fence). Probes, never
 * requests, find out whether it is back or has caught up.
 */
export interface ReplicaWatch {
  /** The replica when it may answer now; otherwise undefined, with a probe started when one is due. */
  pick(): Db | undefined;
  /** A read on `db` failed for the server's sake: no replica read until a probe finds it back. */
  lose(db: Db, error: unknown): void;
  /** No replica read until the replica has replayed this position. */
  raise(position: bigint | undefined): void;
  /** A write whose position could not be read: no replica read until a fence is taken after it. */
  unknownWrite(): void;
  state(): "up" | "behind" | "down";
  close(): Promise<void>;
}

export interface ReplicaWatchOptions {
  primary: Db;
  readUrl: string;
  log: Logger;
  max: number;
  fenceEveryMs: number;
}

export const createReplicaWatch = ({ primary, readUrl, log, max, fenceEveryMs }: ReplicaWatchOptions): ReplicaWatch => {
  const open = (): Db =>
    createDb(readUrl, {
      max,
      applicationName: "usage-gateway-read",
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      queryTimeoutMillis: QUERY_TIMEOUT_MS,
    });
  let replica: Db | undefined = open();
  let down = false;
  let retryAt = 0;
  // Positions as numbers; the replica is usable while replayed >= fence. Unknown at start: probed first.
  let replayed = -1n;
  let fence = 0n;
  // A write whose position could not be read: no replica read until a fence taken after it.
  let fenceUnknown = false;
  let unknownWrites = 0;
  let fencedAt = 0;
  let probedAt = 0;
  let probing: Promise<void> | undefined;
  let fencing: Promise<void> | undefined;

  const usable = (): boolean => replica !== undefined && !fenceUnknown && replayed >= fence;

  const raise = (position: bigint | undefined): void => {
    if (position !== undefined && position > fence) fence = position;
  };

  /** Gives up a replica pool that failed; a probe opens a new one (a pool may hold a hung connection). */
  const lose = (db: Db, error: unknown): void => {
    if (db !== replica) return;
    replica = undefined;
    void db.destroy().catch(() => {});
    if (!down) log.warn({ err: error, retryMs: RETRY_MS }, "read replica unreachable; reading from the primary");
    down = true;
    retryAt = Date.now() + RETRY_MS;
  };

  const probe = (): Promise<void> => {
    probing ??= (async () => {
      probedAt = Date.now();
      const db = replica ?? open();
      try {
        const position = await replayPosition(db);
        // Not a standby (promoted, or another primary): it has nothing to catch up with.
        replayed = position === null ? BEYOND_ANY_POSITION : (parseLsn(position) ?? -1n);
        replica = db;
        if (down) log.info("read replica reachable again; reading from it");
        down = false;
      } catch (error) {
        if (db === replica) lose(db, error);
        else {
          void db.destroy().catch(() => {});
          retryAt = Date.now() + RETRY_MS;
        }
      }
    })().finally(() => {
      probing = undefined;
    });
    return probing;
  };

  /** The primary's current position becomes the fence; then the replica is asked at once whether it is there. */
  const refreshFence = (): void => {
    fencedAt = Date.now();
    if (fencing !== undefined) return;
    const unknownBefore = unknownWrites;
    fencing = walPosition(primary)
      .then((position) => {
        raise(parseLsn(position));
        if (unknownWrites === unknownBefore) fenceUnknown = false;
        if (!down) return probe();
      })
      .catch((error: unknown) => log.debug({ err: error }, "primary position unknown; fence unchanged"))
      .finally(() => {
        fencing = undefined;
      });
  };

  /** The replica when it may answer now; otherwise undefined, with a probe started when one is due. */
  const pick = (): Db | undefined => {
    const now = Date.now();
    if (now - fencedAt >= fenceEveryMs) refreshFence();
    if (down) {
      if (now >= retryAt) void probe();
      return undefined;
    }
    if (usable()) return replica;
    if (now - probedAt >= CATCH_UP_PROBE_MS) void probe();
    return undefined;
  };

  return {
    pick,
    lose,
    raise,
    unknownWrite() {
      fenceUnknown = true;
      unknownWrites++;
      fencedAt = 0;
    },
    state: () => (down ? "down" : usable() ? "up" : "behind"),
    async close() {
      await Promise.allSettled([probing, fencing]);
      const db = replica;
      replica = undefined;
      await db?.destroy();
    },
  };
};
