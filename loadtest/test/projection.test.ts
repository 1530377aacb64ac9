import { describe, expect, it } from "vitest";
import { addCosts, type HitCosts, type Layout, project } from "../lib/projection.ts";
import { replaceSection } from "../lib/report.ts";

const layout = (machines: number, redisPrimaries: number): Layout => ({
  gatewayMachines: machines,
  workerMachines: machines,
  coresPerMachine: 2,
  redisPrimaries,
  postgresCores: 2,
});

describe("throughput projection", () => {
  // Chosen so that every part's limit is a round number and each a different one.
  const costs: HitCosts = { gateway: 40, worker: 20, redisPrimaries: 30, redisReplicas: 15, postgres: 8 };

  it("divides each part's cores by its CPU per hit, and the least of them is the rate", () => {
    const one = project(costs, layout(1, 3));
    // gateway 2 cores / 40 µs = 50k; worker 2 / 20 µs = 100k; 3 primaries / 30 µs = 100k;
    // 3 replicas / 15 µs = 200k; Postgres 2 / 8 µs = 250k.
    expect(Object.fromEntries(one.limits.map((l) => [l.part, l.hitsPerSec]))).toEqual({
      gateway: 50_000,
      worker: 100_000,
      "Redis primaries": 100_000,
      "Redis replicas": 200_000,
      Postgres: 250_000,
    });
    expect(one.hitsPerSec).toBe(50_000);
    expect(one.saturates).toBe("gateway");
  });

  it("moves the bottleneck as machines are added, and stops at the parts that do not grow", () => {
    // 4 + 4 machines: gateway 8 cores / 40 µs = 200k, worker 400k; the 3 primaries stay at 100k.
    const four = project(costs, layout(4, 3));
    expect(four.hitsPerSec).toBe(100_000);
    expect(four.saturates).toBe("Redis primaries");
    expect(project(costs, layout(8, 3)).hitsPerSec).toBe(100_000);
    // 12 primaries: 400k, replicas 800k, gateway 400k: the one Postgres (250k) comes first.
    const wide = project(costs, layout(8, 12));
    expect(wide.hitsPerSec).toBe(250_000);
    expect(wide.saturates).toBe("Postgres");
    expect(wide.limits.map((l) => l.part)).toEqual(["Postgres", "gateway", "Redis primaries", "worker", "Redis replicas"]);
  });

  it("counts one Redis node as one core, and a part that cost nothing limits nothing", () => {
    const node = project({ ...costs, redisReplicas: 0 }, layout(8, 1));
    expect(node.limits.map((l) => l.part)).not.toContain("Redis replicas");
    // One node: 1 core / 30 µs.
    expect(node.hitsPerSec).toBeCloseTo(1e6 / 30, 6);
    expect(node.saturates).toBe("Redis");
  });

  it("adds two stages' costs part by part", () => {
    expect(addCosts(costs, { gateway: 1, worker: 2, redisPrimaries: 3, redisReplicas: 4, postgres: 5 })).toEqual({
      gateway: 41,
      worker: 22,
      redisPrimaries: 33,
      redisReplicas: 19,
      postgres: 13,
    });
  });
});

describe("a section of docs/benchmarks.md", () => {
  const doc = "# Benchmarks\n\nintro\n\n## Older run\n\nold figures\n\n## Exports\n\nexport figures\n";

  it("goes before the first section the first time, leaving the others as they were", () => {
    const written = replaceSection(doc, "## Cluster", "new table");
    expect(written).toBe(
      "# Benchmarks\n\nintro\n\n## Cluster\n\nnew table\n\n## Older run\n\nold figures\n\n## Exports\n\nexport figures\n",
    );
  });

  it("replaces its own body on the next run, up to the next section", () => {
    const once = replaceSection(doc, "## Cluster", "first");
    const twice = replaceSection(once, "## Cluster", "second");
    expect(twice).toBe(replaceSection(doc, "## Cluster", "second"));
    expect(replaceSection(doc, "## Exports", "replaced")).toBe(
      "# Benchmarks\n\nintro\n\n## Older run\n\nold figures\n\n## Exports\n\nreplaced\n",
    );
  });
});
