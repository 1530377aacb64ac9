import type { Logger } from "@usage/core";
import { type Db, parseLsn, sqlState, walPosition } from "@usage/db";
import { createReplicaWatch, FENCE_EVERY_MS } from "./replica-watch.ts";

/** SQLSTATE classes that say the server, not the query, is the problem: connection, resources, shutdown, system, login, database. */
const SERVER_TROUBLE = ["08", "53", "57", "58", "28", "3D"];
/** A standby cancelled the query to replay WAL (snapshot or buffer-pin conflict): the primary can answer it. */
const RECOVERY_CONFLICT = ["40001", "40P01"];
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
 * primary then held (replica-watch.ts keeps that account). Otherwise, or when the replica
 * fails, the primary answers. Writes use `primary` directly.
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

/** Whether a replica's error means "ask the primary" and whether the replica should be given up. */
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

  const watch = createReplicaWatch({ primary, readUrl, log, max, fenceEveryMs });

  return {
    primary,
    async read<T>(query: (db: Db) => Promise<T>, options?: ReadOptions<T>): Promise<T> {
      const db = watch.pick();
      if (db === undefined) return onPrimary(query);
      let result: T;
      try {
        result = await query(db);
      } catch (error) {
        const fault = faultOf(error);
        if (fault === undefined) throw error;
        if (fault === "down") watch.lose(db, error);
        return onPrimary(query);
      }
      reads.replica++;
      // A key or client registered a moment ago may not have reached the replica yet.
      return options?.missed?.(result) === true ? onPrimary(query) : result;
    },
    async barrier() {
      try {
        const position = await walPosition(primary);
        watch.raise(parseLsn(position));
        return position;
      } catch (error) {
        // The write is committed but its position unknown: no replica read until a new fence is taken.
        log.warn({ err: error }, "primary position unknown after a write; reading from the primary");
        watch.unknownWrite();
        return undefined;
      }
    },
    after(lsn) {
      watch.raise(parseLsn(lsn));
    },
    status: () => ({ replica: watch.state(), reads: { ...reads } }),
    close: () => watch.close(),
  };
};
