import { randomUUID } from "node:crypto";
import { bounded } from "@usage/core";
import type { Keys } from "./keys.ts";
import type { RedisConnection } from "./redis.ts";

/**
 * Heartbeats of gateways and workers, and the ingest rate, in Redis under the `{ops}` hash
 * tag (one slot: one MULTI reads or writes them all). Once a second each process writes its
 * liveness (and a gateway its spool) into the hash of its role, and a gateway adds the hits it
 * accepted since its last beat to the counter of one epoch second. GET /api/ops/stats reads
 * them back with readOpsSnapshot.
 */

export const HEARTBEAT_MS = 1_000;
/** A process counts as live while its last beat is at most this old: about three beats. */
export const LIVE_MS = 3 * HEARTBEAT_MS;
/** The rate is the mean over this many whole seconds. */
export const RATE_WINDOW_SECONDS = 10;
/** Beats fire this long after a second's boundary, so a beat's interval is nearly one whole second. */
const TICK_OFFSET_MS = 20;
/** Longer than the window reaches back: a per-second counter is gone a minute later. */
const RATE_TTL_SECONDS = 60;
/** A member whose last beat is older than this (a process killed without a goodbye) is removed by readers. */
const FORGET_MS = 60_000;
/** The goodbye on stop waits at most this long for Redis. */
const STOP_TIMEOUT_MS = 1_000;

export type OpsRole = "gateway" | "worker";

/** What a process reports each beat; `acceptedHits` is its running total since it started. */
export interface BeatSample {
  acceptedHits?: number;
  spoolBytes?: number;
  spoolSegments?: number;
}

interface MemberState {
  /** Epoch milliseconds of the beat, by the writer's clock. */
  at: number;
  spoolBytes: number;
  spoolSegments: number;
}

export interface HeartbeatOptions {
  redis: RedisConnection;
  keys: Keys;
  role: OpsRole;
  sample: () => BeatSample | Promise<BeatSample>;
  onError?: (error: unknown) => void;
}

export interface Heartbeat {
  /** This process's member id: random per start. */
  readonly id: string;
  /** Idempotent: stops the timer, credits the last hits and removes this member at once. */
  stop(): Promise<void>;
}

/** Beats at once (so a process is counted as soon as it starts), then just after every second's boundary. */
export const startHeartbeat = ({ redis, keys, role, sample, onError }: HeartbeatOptions): Heartbeat => {
  const id = randomUUID();
  const members = keys.opsMembers(role);
  // What was last written: hits are credited as the difference of running totals, so hits of
  // a beat that failed (Redis away) are credited by the next one that succeeds.
  let lastAt = Date.now();
  let lastHits = 0;
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  const beat = async (goodbye: boolean): Promise<void> => {
    const figures = await sample();
    if (redis.status !== "ready") return;
    const now = Date.now();
    const hits = (figures.acceptedHits ?? 0) - lastHits;
    const multi = redis.multi();
    if (hits > 0) {
      // Credited to the second in the middle of the interval they were counted in: for the
      // regular beat just after a boundary, the second that just ended.
      const rateKey = keys.opsRate(Math.floor((lastAt + now) / 2 / 1000));
      multi.incrby(rateKey, hits).expire(rateKey, RATE_TTL_SECONDS);
    }
    if (goodbye) multi.hdel(members, id);
    else {
      const state: MemberState = { at: now, spoolBytes: figures.spoolBytes ?? 0, spoolSegments: figures.spoolSegments ?? 0 };
      multi.hset(members, id, JSON.stringify(state));
    }
    await multi.exec();
    lastAt = now;
    lastHits += hits;
  };

  const run = (): void => {
    // A beat still waiting on Redis is not doubled; the next one credits what this one missed.
    beating ??= beat(false)
      .catch((error: unknown) => onError?.(error))
      .finally(() => {
        beating = undefined;
      });
    schedule();
  };
  const schedule = (): void => {
    if (stopping !== undefined) return;
    timer = setTimeout(run, HEARTBEAT_MS - (Date.now() % HEARTBEAT_MS) + TICK_OFFSET_MS);
    // Never what keeps a process alive.
    timer.unref();
  };
  run();

  return {
    id,
    stop() {
      stopping ??= (async () => {
        clearTimeout(timer);
        await beating;
        await bounded(beat(true), STOP_TIMEOUT_MS).catch((error: unknown) => onError?.(error));
      })();
      return stopping;
    },
  };
};

export interface OpsSnapshot {
  /** Mean hits per second accepted by all gateways over the last RATE_WINDOW_SECONDS whole seconds. */
  hitsPerSecond: number;
  gateways: number;
  workers: number;
  /** Summed over the live gateways. */
  spoolBytes: number;
  spoolSegments: number;
}

const parseMember = (value: string): MemberState | undefined => {
  try {
    const state = JSON.parse(value) as Partial<MemberState>;
    return typeof state.at === "number"
      ? { at: state.at, spoolBytes: state.spoolBytes ?? 0, spoolSegments: state.spoolSegments ?? 0 }
      : undefined;
  } catch {
    return undefined;
  }
};

/**
 * One MULTI on the `{ops}` slot. The window is the RATE_WINDOW_SECONDS seconds that ended at
 * least one second ago: the last second is left out because beats crediting it may still
 * be on their way.
 */
export const readOpsSnapshot = async (redis: RedisConnection, keys: Keys, now = Date.now()): Promise<OpsSnapshot> => {
  const newest = Math.floor(now / 1000) - 2;
  const rateKeys = Array.from({ length: RATE_WINDOW_SECONDS }, (_, i) => keys.opsRate(newest - i));
  const replies = await redis
    .multi()
    .mget(...rateKeys)
    .hgetall(keys.opsMembers("gateway"))
    .hgetall(keys.opsMembers("worker"))
    .exec();
  if (replies === null) throw new Error("ops snapshot transaction aborted");
  for (const [error] of replies) if (error) throw error;
  const [rates, gatewayMembers, workerMembers] = replies.map(([, value]) => value) as [
    Array<string | null>,
    Record<string, string>,
    Record<string, string>,
  ];

  const live = (role: OpsRole, all: Record<string, string>): MemberState[] => {
    const alive: MemberState[] = [];
    const forgotten: string[] = [];
    for (const [member, value] of Object.entries(all)) {
      const state = parseMember(value);
      if (state === undefined || state.at < now - FORGET_MS) forgotten.push(member);
      else if (state.at >= now - LIVE_MS) alive.push(state);
    }
    // Housekeeping of processes that died without a goodbye; a failure only delays it.
    if (forgotten.length > 0) void redis.hdel(keys.opsMembers(role), ...forgotten).catch(() => {});
    return alive;
  };
  const gateways = live("gateway", gatewayMembers);
  const hits = rates.reduce((sum, value) => sum + (value === null ? 0 : Number(value)), 0);
  return {
    hitsPerSecond: hits / RATE_WINDOW_SECONDS,
    gateways: gateways.length,
    workers: live("worker", workerMembers).length,
    spoolBytes: gateways.reduce((sum, g) => sum + g.spoolBytes, 0),
    spoolSegments: gateways.reduce((sum, g) => sum + g.spoolSegments, 0),
  };
};
