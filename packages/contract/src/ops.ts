import { type Static, Type } from "typebox";

const Count = (description: string) => Type.Integer({ minimum: 0, description });

/** GET /api/ops/stats: the service at a glance (docs/operations.md says how each figure is made). */
export const OpsStats = Type.Object({
  ingest: Type.Object({
    hits_per_second: Type.Number({
      minimum: 0,
      description: "Hits accepted (202, not duplicates) by all gateways, mean over the 10 whole seconds that ended 1 to 2 s ago",
    }),
  }),
  queue: Type.Object(
    {
      waiting: Count("Hit-batch jobs waiting for a worker (paused ones included)"),
      active: Count("Hit-batch jobs being stored"),
      failed: Count("Hit-batch jobs that ran out of attempts (kept a week)"),
      delayed: Count("Hit-batch jobs waiting out a retry delay"),
      oldest_waiting_age_seconds: Type.Number({ minimum: 0, description: "Age of the oldest waiting job; 0 when none waits" }),
    },
    { description: "The hit queue (one job is one group of hits)" },
  ),
  spool: Type.Object(
    {
      bytes: Count("Bytes in the local spools of the live gateways"),
      segments: Count("Spool segment files of the live gateways"),
    },
    { description: "Hits made durable on local disk while Redis was unreachable, not yet replayed" },
  ),
  gateways: Count("Gateway processes with a heartbeat in the last 3 s"),
  workers: Count("Worker processes with a heartbeat in the last 3 s"),
});
export type OpsStats = Static<typeof OpsStats>;
