/**
 * Throughput projected for more machines from the CPU a hit costs each part of the system,
 * as `pnpm bench --cluster` measured it: each part can carry at most its cores' worth of CPU
 * per second, so
 *
 *   rate = min over parts of (cores of the part × 10⁶ / µs of CPU per hit in that part)
 *
 * and the part with the least is the one that saturates first. Arithmetic only: measuring
 * is the bench's job.
 */

/** CPU µs per hit in each part; Redis summed over its primaries, and over its replicas (0 without). */
export interface HitCosts {
  gateway: number;
  worker: number;
  redisPrimaries: number;
  redisReplicas: number;
  postgres: number;
}

export interface Layout {
  gatewayMachines: number;
  workerMachines: number;
  /** Cores of each gateway and worker machine: it runs as many processes (Node runs JavaScript on one core). */
  coresPerMachine: number;
  /** Redis primaries, each on a machine of its own, each with one replica when `redisReplicas` > 0. */
  redisPrimaries: number;
  /** Cores of the one Postgres primary's machine (Postgres runs a process per connection). */
  postgresCores: number;
}

export interface PartLimit {
  part: string;
  /** Cores the part has in this layout. */
  cores: number;
  usPerHit: number;
  /** The most hits per second the part can carry. */
  hitsPerSec: number;
}

export interface Projection {
  hitsPerSec: number;
  /** The part that saturates first: the one with the fewest hits per second. */
  saturates: string;
  limits: PartLimit[];
}

/**
 * A Redis node runs commands on one thread, so each has one core whatever its machine, and
 * carries 1/P of the hits (128 buckets and the queue shards spread over the primaries).
 */
export const project = (costs: HitCosts, layout: Layout): Projection => {
  const parts: Array<{ part: string; cores: number; usPerHit: number }> = [
    { part: "gateway", cores: layout.gatewayMachines * layout.coresPerMachine, usPerHit: costs.gateway },
    { part: "worker", cores: layout.workerMachines * layout.coresPerMachine, usPerHit: costs.worker },
    { part: layout.redisPrimaries === 1 ? "Redis" : "Redis primaries", cores: layout.redisPrimaries, usPerHit: costs.redisPrimaries },
    { part: "Redis replicas", cores: layout.redisPrimaries, usPerHit: costs.redisReplicas },
    { part: "Postgres", cores: layout.postgresCores, usPerHit: costs.postgres },
  ];
  // A part that cost nothing measurable (no replicas on one node) limits nothing.
  const limits = parts
    .filter((p) => p.usPerHit > 0)
    .map((p) => ({ ...p, hitsPerSec: (p.cores * 1e6) / p.usPerHit }))
    .sort((a, b) => a.hitsPerSec - b.hitsPerSec);
  const first = limits[0];
  return { hitsPerSec: first?.hitsPerSec ?? Number.POSITIVE_INFINITY, saturates: first?.part ?? "nothing measured", limits };
};

/** The sum of two workloads' costs: a hit accepted in one stage and stored in another costs both. */
export const addCosts = (a: HitCosts, b: HitCosts): HitCosts => ({
  gateway: a.gateway + b.gateway,
  worker: a.worker + b.worker,
  redisPrimaries: a.redisPrimaries + b.redisPrimaries,
  redisReplicas: a.redisReplicas + b.redisReplicas,
  postgres: a.postgres + b.postgres,
});
