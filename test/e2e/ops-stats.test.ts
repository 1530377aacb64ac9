import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ADMIN_KEY, type AppProcess, call, createTestEnv, eventually, spawnGateway, spawnWorker, type TestEnv } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

interface Stats {
  ingest: { hits_per_second: number };
  queue: Record<string, number>;
  spool: { bytes: number; segments: number };
  gateways: number;
  workers: number;
}

/** Paced load: a batch of BATCH hits every PERIOD_MS, alternating between the gateways. */
const BATCH = 4;
const PERIOD_MS = 100;
const PACED_RATE = (BATCH * 1000) / PERIOD_MS;
/** Long enough for the stats window (the 10 whole seconds ending 1-2 s ago) to lie inside the load. */
const LOAD_MS = 14_000;

/** The whole service's figures, from two gateway processes and a worker over HTTP. */
describe("GET /api/ops/stats across processes", () => {
  let env: TestEnv;
  let gateways: AppProcess[];
  let worker: Omit<AppProcess, "base">;
  let admin: string;

  beforeAll(async () => {
    env = await createTestEnv({ RATE_LIMIT_PER_HOUR: "1000000", LOG_LEVEL: "warn" });
    gateways = await Promise.all([spawnGateway(env.env), spawnGateway(env.env)]);
    worker = spawnWorker(env.env);
    admin = (await call(gateways[0]!.base, "POST", "/api/auth/token", undefined, { "x-api-key": ADMIN_KEY })).body.access_token as string;
  });
  afterAll(async () => {
    for (const process of [...(gateways ?? []), worker]) process?.child.kill("SIGTERM");
    await Promise.all([...(gateways ?? []), worker].map((process) => process?.exited));
    await env?.cleanup();
  });

  const stats = async (base: string): Promise<Stats> => {
    const response = await call(base, "GET", "/api/ops/stats", undefined, { authorization: `Bearer ${admin}` });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body as unknown as Stats;
  };

  it("counts two gateways and one worker, as either gateway sees it", async () => {
    const [a, b] = gateways as [AppProcess, AppProcess];
    const seen = await eventually(async () => {
      const s = await stats(a.base);
      return s.gateways === 2 && s.workers === 1 ? s : undefined;
    }, 20_000);
    expect(seen).toMatchObject({ gateways: 2, workers: 1, spool: { bytes: 0, segments: 0 } });
    expect(await stats(b.base)).toMatchObject({ gateways: 2, workers: 1 });
  });

  it("reports hits_per_second within a sane band of a paced rate sent through both gateways", async () => {
    const [a, b] = gateways as [AppProcess, AppProcess];
    const key = (await call(a.base, "POST", "/api/register", { name: "Paced", email: `${randomUUID()}@example.com` })).body
      .api_key as string;
    const hits = () => ({
      hits: Array.from({ length: BATCH }, () => ({ ip: "192.0.2.9", endpoint: "/paced", timestamp: new Date().toISOString() })),
    });
    // When each batch was accepted, to compare with what the service says it accepted.
    const acceptedAt: number[] = [];
    const sends: Array<Promise<void>> = [];
    const start = Date.now();
    let reading: Promise<{ at: number; stats: Stats }> | undefined;
    for (let i = 0; Date.now() - start < LOAD_MS; i++) {
      // Absolute schedule: a late tick does not push every later batch back.
      await sleep(Math.max(0, start + i * PERIOD_MS - Date.now()));
      sends.push(
        call(i % 2 === 0 ? a.base : b.base, "POST", "/api/logs/batch", hits(), { "x-api-key": key }).then((response) => {
          expect(response.status).toBe(202);
          acceptedAt.push(Date.now());
        }),
      );
      // Read while the load still runs, once the window lies wholly inside it.
      if (reading === undefined && Date.now() - start >= LOAD_MS - 1_000) {
        const at = Date.now();
        reading = stats(a.base).then((s) => ({ at, stats: s }));
      }
    }
    await Promise.all(sends);
    const { at, stats: during } = await (reading as Promise<{ at: number; stats: Stats }>);

    // What the sender saw in the same window: seconds [S-11, S-2] of the reading's second S.
    const newest = Math.floor(at / 1000) - 2;
    const from = (newest - 9) * 1000;
    const to = (newest + 1) * 1000;
    const sent = (acceptedAt.filter((t) => t >= from && t < to).length * BATCH) / 10;
    expect(sent).toBeGreaterThan(PACED_RATE * 0.6);
    expect(sent).toBeLessThan(PACED_RATE * 1.4);
    const reported = during.ingest.hits_per_second;
    expect(reported, `reported ${reported}/s, sent ${sent}/s`).toBeGreaterThan(Math.min(sent, PACED_RATE) * 0.8);
    expect(reported, `reported ${reported}/s, sent ${sent}/s`).toBeLessThan(Math.max(sent, PACED_RATE) * 1.2);
    expect(during).toMatchObject({ gateways: 2, workers: 1 });
  });

  it("counts a gateway out as soon as it stops, then a stopped worker", async () => {
    const [a, b] = gateways as [AppProcess, AppProcess];
    b.child.kill("SIGTERM");
    expect(await b.exited).toBe(0);
    // Its goodbye removed it: no need to wait for its heartbeat to age.
    expect(await stats(a.base)).toMatchObject({ gateways: 1, workers: 1 });
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(await stats(a.base)).toMatchObject({ gateways: 1, workers: 0 });
  });
});
