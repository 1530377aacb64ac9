import { Queue } from "bullmq";
import { type Static, Type } from "typebox";
import { Compile } from "typebox/compile";
import type { Keys } from "./keys.ts";
import { listenForErrors, QUEUES, type QueueErrorListener, queuePlace } from "./queue.ts";
import type { RedisConnection } from "./redis.ts";

/**
 * Every job of the maintenance queue, by name, with the schema of its payload: the one
 * place a job is declared. Schedulers send no data, which BullMQ hands over as `{}`.
 */
export const MAINTENANCE_JOBS = {
  "ensure-partitions": Type.Object({}),
  "drop-expired": Type.Object({}),
  reconcile: Type.Object({}),
  "expire-exports": Type.Object({}),
} as const;

export type MaintenanceJobName = keyof typeof MAINTENANCE_JOBS;
export type MaintenancePayload<N extends MaintenanceJobName> = Static<(typeof MAINTENANCE_JOBS)[N]>;
/** A producer can add only declared names, each with its own payload. */
export type MaintenanceQueue = Queue<MaintenancePayload<MaintenanceJobName>, unknown, MaintenanceJobName>;

export const MAINTENANCE_JOB_NAMES = Object.keys(MAINTENANCE_JOBS) as MaintenanceJobName[];

export const isMaintenanceJobName = (name: string): name is MaintenanceJobName => Object.hasOwn(MAINTENANCE_JOBS, name);

const validators = new Map(MAINTENANCE_JOB_NAMES.map((name) => [name, Compile(MAINTENANCE_JOBS[name])]));

/** Validates a consumed payload with the schema it was declared with. */
export const isMaintenancePayload = <N extends MaintenanceJobName>(name: N, data: unknown): data is MaintenancePayload<N> =>
  validators.get(name)?.Check(data) === true;

export const createMaintenanceQueue = (connection: RedisConnection, keys: Keys, onError?: QueueErrorListener): MaintenanceQueue =>
  listenForErrors(
    new Queue<MaintenancePayload<MaintenanceJobName>, unknown, MaintenanceJobName>(QUEUES.maintenance, {
      connection,
      prefix: queuePlace(keys, QUEUES.maintenance).prefix,
      defaultJobOptions: {
        attempts: 3,
        backoff: { type: "exponential", delay: 1000, jitter: 0.5 },
        removeOnComplete: 100,
        removeOnFail: 100,
      },
    }),
    onError,
  );
