import type { WireHit } from "@usage/contract";
import { GroupCommit, type Logger } from "@usage/core";
import type { Counters, HitBatchJob, HitQueues, RedisConnection } from "@usage/store";
import { createReplayer } from "./replayer.ts";
import { Spool } from "./spool.ts";

/** One request's hits, counted in Redis; `mayExist` when some are duplicates stored before. */
export interface PendingHits {
  hits: WireHit[];
  mayExist: boolean;
}

export interface PipelineSettings {
  batchMaxHits: number;
  batchLingerMs: number;
  batchMaxInFlight: number;
  batchSpacingMs: number;
  spoolDir: string;
  spoolMaxBytes: number;
}

export interface PipelineEvents {
  onFlush?: (hits: number, seconds: number, ok: boolean) => void;
  onSpooled?: (hits: number) => void;
  onReplayed?: (hits: number) => void;
}

export interface PipelineDeps {
  settings: PipelineSettings;
  queues: HitQueues;
  /** The request-path connection: the replayer waits for it to be ready. */
  redis: RedisConnection;
  counters: Counters;
  log: Logger;
  events?: PipelineEvents;
}

/**
 * Where a hit becomes durable, after it was counted. Resolving means the hit will reach
 * Postgres even if this process dies at once; rejecting means it will not (the caller
 * answers 503 and takes its count back).
 */
export interface IngestPipeline {
  /**
   * Hits Redis counted: grouped with the others of this turn into one BullMQ job (group
   * commit). A group the queue refuses (or, on a cluster, that no replica confirmed) is
   * spooled instead, marked `counted`, so its replay does not count it again.
   */
  enqueue(pending: PendingHits): Promise<unknown>;
  /** Hits counted in process while Redis is unreachable: spooled, to be counted on replay. */
  spoolUncounted(hits: WireHit[]): Promise<void>;
  /** Bytes waiting in the spool. */
  readonly spoolBytes: number;
  /** Segment files waiting in the spool. */
  readonly spoolSegments: number;
  /** Stops replaying, flushes the last group (or spools it), then seals the spool segment. */
  close(): Promise<void>;
}

export const createIngestPipeline = async ({
  settings,
  queues,
  redis,
  counters,
  log,
  events = {},
}: PipelineDeps): Promise<IngestPipeline> => {
  const spool = new Spool(settings.spoolDir, settings.spoolMaxBytes, events.onSpooled);
  await spool.init();
  const batcher = new GroupCommit<PendingHits>({
    maxItems: settings.batchMaxHits,
    weigh: (pending) => pending.hits.length,
    lingerMs: settings.batchLingerMs,
    spacingMs: settings.batchSpacingMs,
    maxInFlight: settings.batchMaxInFlight,
    flush: async (group) => {
      const hits = group.length === 1 ? (group[0] as PendingHits).hits : group.flatMap((pending) => pending.hits);
      const job: HitBatchJob = group.some((pending) => pending.mayExist) ? { v: 1, hits, mayExist: true } : { v: 1, hits };
      try {
        await queues.add(job);
      } catch (error) {
        // Refused, or on a cluster not yet on a replica: the job may still be in Redis too,
        // and the spooled copy is then stored once (its replay is flagged mayExist, and the
        // worker's plain insert falls back to skipping stored hits).
        log.warn({ err: error, hits: hits.length }, "enqueue failed, spooling the group");
        await spool.append({ counted: true, hits });
      }
    },
    onFlush: events.onFlush,
  });
  const replayer = createReplayer({ spool, redis, counters, queues, log, onReplayed: events.onReplayed });
  replayer.start();

  let closing: Promise<void> | undefined;
  return {
    // No wrapper promise: this runs once per request on the hot path.
    enqueue: (pending) => batcher.add([pending]),
    spoolUncounted: (hits) => spool.append({ counted: false, hits }),
    get spoolBytes() {
      return spool.bytes;
    },
    get spoolSegments() {
      return spool.segments;
    },
    close() {
      // The queue's connection must still be open here: the app closes the pipeline first.
      closing ??= (async () => {
        replayer.stop();
        await batcher.close();
        await spool.close();
      })();
      return closing;
    },
  };
};
