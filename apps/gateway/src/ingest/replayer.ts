import { HIT, type WireHit, withEventTime } from "@usage/contract";
import { epochHour, type Logger } from "@usage/core";
import type { Counters, HitQueues, RedisConnection } from "@usage/store";
import type { Spool } from "./spool.ts";

const CHECK_EVERY_MS = 1_000;

export interface ReplayerDeps {
  spool: Spool;
  redis: RedisConnection;
  counters: Counters;
  queues: HitQueues;
  log: Logger;
  onReplayed?: (hits: number) => void;
}

/**
 * Moves spooled hits into the queue once Redis answers again, then deletes the segment.
 * Every step is idempotent, so a crash mid-replay only means replaying again: hits not yet
 * counted are counted with their id as the idempotency marker (counted once however often
 * replayed), and storage is idempotent on (client, id, time).
 */
export const createReplayer = ({ spool, redis, counters, queues, log, onReplayed }: ReplayerDeps) => {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  const countOnce = async (hits: WireHit[]): Promise<WireHit[]> => {
    // Grouped by client and by the hour they were accepted in: the quota they used is that
    // hour's, not the hour of the replay.
    const groups = new Map<string, WireHit[]>();
    for (const hit of hits) {
      const key = `${hit[HIT.clientId]}|${epochHour(hit[HIT.receivedAt])}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [hit]);
      else group.push(hit);
    }
    const out: WireHit[] = [];
    for (const group of groups.values()) {
      const first = group[0] as WireHit;
      const outcome = await counters.count(
        first[HIT.clientId],
        Number.MAX_SAFE_INTEGER,
        group.map((hit) => ({ eventId: hit[HIT.id], ts: hit[HIT.ts] })),
        first[HIT.receivedAt],
        true,
      );
      group.forEach((hit, i) => {
        const prior = outcome.priorTs[i];
        out.push(prior == null ? hit : withEventTime(hit, prior));
      });
    }
    return out;
  };

  const replayOnce = async (): Promise<number> => {
    if (redis.status !== "ready") return 0;
    await spool.rotate();
    let replayed = 0;
    for (const name of await spool.replayable()) {
      for (const record of await spool.read(name)) {
        const hits = record.counted ? record.hits : await countOnce(record.hits);
        // The enqueue that failed into the spool may have landed after all. On a cluster this
        // resolves only once a replica has the job: the segment is removed after that alone.
        await queues.add({ v: 1, hits, mayExist: true });
        replayed += hits.length;
      }
      await spool.remove(name);
      log.info({ segment: name, replayed }, "spool segment replayed into the queue");
    }
    if (replayed > 0) onReplayed?.(replayed);
    return replayed;
  };

  return {
    /** One pass; concurrent callers share it. */
    replay(): Promise<number> {
      running ??= replayOnce().finally(() => {
        running = undefined;
      });
      return running;
    },
    start() {
      timer ??= setInterval(() => {
        if (spool.bytes === 0) return;
        void this.replay().catch((error: unknown) => log.warn({ err: error }, "spool replay failed, will retry"));
      }, CHECK_EVERY_MS).unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
};
