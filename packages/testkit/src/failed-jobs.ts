import { randomUUID } from "node:crypto";
import { type Queue, Worker } from "bullmq";
import { Cluster, Redis } from "ioredis";

/**
 * Adds jobs to a queue and moves each straight to "failed" (one attempt, the given reason),
 * as a worker that gave up would leave them. Call it while no other worker takes from the
 * queue: it takes the next waiting job and checks that it is the one it added.
 */
export const addFailedJobs = async (queue: Queue, name: string, payloads: unknown[], reason = "failed for the test"): Promise<string[]> => {
  // A worker's connection: blocking commands wait, never give up after one retry.
  // The connection the queue was given (queue.client wraps it, with a duplicate() of its own).
  const client = queue.opts.connection;
  if (!(client instanceof Redis || client instanceof Cluster)) throw new Error("addFailedJobs needs a queue made with a connection");
  const connection =
    client instanceof Cluster
      ? client.duplicate(undefined, {
          enableOfflineQueue: true,
          redisOptions: { ...client.options.redisOptions, maxRetriesPerRequest: null },
        })
      : new Redis({ ...client.options, maxRetriesPerRequest: null, enableOfflineQueue: true });
  const worker = new Worker(queue.name, null, { connection, prefix: queue.opts.prefix, autorun: false });
  const token = randomUUID();
  const ids: string[] = [];
  try {
    for (const payload of payloads) {
      const added = await queue.add(name, payload as never, { attempts: 1 });
      const taken = await worker.getNextJob(token, { block: false });
      if (taken === undefined || taken.id !== added.id)
        throw new Error(`took job ${taken?.id} instead of ${added.id}: another worker runs on the queue`);
      await taken.moveToFailed(new Error(reason), token, false);
      ids.push(String(added.id));
    }
  } finally {
    await worker.close();
    connection.disconnect();
  }
  return ids;
};
