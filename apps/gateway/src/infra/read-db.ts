import type { Logger } from "@usage/core";
import { createDb, type Db, parseLsn, replayPosition, sqlState, walPosition } from "@usage/db";

/** A read waits this long for a replica connection before the primary answers it instead. */
const CONNECT_TIMEOUT_MS = 1_000;
/** A replica query past this is given up for the primary: a hung server must not hang requests. */
const QUERY_TIMEOUT_MS = 2_000;
/** An unreachable replica is tried again this often, by a probe rather than by a request. */
const RETRY_MS = 1_000;
/** This often the replica must catch up with where the primary then stood: it bounds how stale a replica read can be. */
const FENCE_EVERY_MS = 2_000;
/** While the replica is behind, how often it is asked how far it has replayed. */
const CATCH_UP_PROBE_MS = 20;

/** SQLSTATE classes that say the server, not the query, is the problem: connection, resources, shutdown, system, login, database. */
const SERVER_TROUBLE = ["08", "53", "57", "58", "28", "3D"];
/** A standby cancelled the query to replay WAL (snapshot or buffer-pin conflict): the primary can answer it. */
const RECOVERY_CONFLICT = ["40001", "40P01"];
/** Past any WAL position (they are 64-bit). */
const BEYOND_ANY_POSITION = 1n << 64n;
/** A bug in the caller's code, which the primary would meet as well. */
const PROGRAM_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

export interface ReadOptions<T> {
  /**
   * True when a replica's answer may just lack a recent write (a lookup that found nothing):
   * the primary is asked before the caller believes, or caches, the absence.
   */
  missed?: (result: T) => boolean;
}

export interface ReadDbStatus {
  replica: "none" | "up" | "behind" | "down";
  reads: { replica: number; primary: number };
}

/**
 * Where the gateway's reads go: the one place that chooses between the streaming replica
 * (`DATABASE_READ_URL`) and the primary. The replica answers a read only when it is
 * reachable and has replayed every write this gateway knows of: its own (`barrier`), other
 * gateways' (`after`, from their change messages) and, every FENCE_EVERY_MS, whatever the
 * primary then held. Otherwise, or when the replica fails, the primary answers. Writes use
 * `primary` directly.
 */
export interface ReadDb {
  readonly primary: Db;
  read<T>(query: (db: Db) => Promise<T>, options?: ReadOptions<T>): Promise<T>;
  /** After a write on the primary: no replica read until the replica has replayed it. Its WAL position, for other gateways. */
  barrier(): Promise<string | undefined>;
  /** A WAL position another gateway wrote up to: no replica read until the replica has replayed it. */
  after(lsn: string): void;
  status(): ReadDbStatus;
  close(): Promise<void>;
}

export interface ReadDbOptions {
  primary: Db;
  primaryUrl: string;
  readUrl: string;
  log: Logger;
  max?: number;
  /** FENCE_EVERY_MS unless a test needs the fence still. */
  fenceEveryMs?: number;
}

type Fault = "down" | "conflict" | undefined;

const faultOf = (error: unknown): Fault => {
  const state = sqlState(error);
  if (state === undefined) return PROGRAM_ERRORS.some((type) => error instanceof type) ? undefined : "down";
  if (RECOVERY_CONFLICT.includes(state)) return "conflict";
  return SERVER_TROUBLE.some((prefix) => state.startsWith(prefix)) ? "down" : undefined;
};

export const createReadDb = ({ primary, primaryUrl, readUrl, log, max = 10, fenceEveryMs = FENCE_EVERY_MS }: ReadDbOptions): ReadDb => {
  const reads = { replica: 0, primary: 0 };
  const onPrimary = <T>(query: (db: Db) => Promise<T>): Promise<T> => {
    reads.primary++;
    return query(primary);
  };
  // Unset, or the primary itself: every read on the primary, with nothing to wait for.
  if (readUrl === primaryUrl) {
    return {
      primary,
      read: onPrimary,
      barrier: async () => undefined,
      after: () => {},
      status: () => ({ replica: "none", reads: { ...reads } }),
      close: async () => {},
    };
  }

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
    if (replica !== undefined && !fenceUnknown && replayed >= fence) return replica;
    if (now - probedAt >= CATCH_UP_PROBE_MS) void probe();
    return undefined;
  };

  return {
    primary,
    async read<T>(query: (db: Db) => Promise<T>, options?: ReadOptions<T>): Promise<T> {
      const db = pick();
      if (db === undefined) return onPrimary(query);
      let result: T;
      try {
        result = await query(db);
      } catch (error) {
        const fault = faultOf(error);
        if (fault === undefined) throw error;
        if (fault === "down") lose(db, error);
        return onPrimary(query);
      }
      reads.replica++;
      // A key or client registered a moment ago may not have reached the replica yet.
      return options?.missed?.(result) === true ? onPrimary(query) : result;
    },
    async barrier() {
      try {
        const position = await walPosition(primary);
        raise(parseLsn(position));
        return position;
      } catch (error) {
        // The write is committed but its position unknown: no replica read until a new fence is taken.
        log.warn({ err: error }, "primary position unknown after a write; reading from the primary");
        fenceUnknown = true;
        unknownWrites++;
        fencedAt = 0;
        return undefined;
      }
    },
    after(lsn) {
      raise(parseLsn(lsn));
    },
    status() {
      const state = down ? "down" : replica !== undefined && !fenceUnknown && replayed >= fence ? "up" : "behind";
      return { replica: state, reads: { ...reads } };
    },
    async close() {
      await Promise.allSettled([probing, fencing]);
      const db = replica;
      replica = undefined;
      await db?.destroy();
    },
  };
};
