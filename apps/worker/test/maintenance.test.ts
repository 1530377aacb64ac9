import { createKeys, createMaintenanceQueue, type MaintenanceJobName, type MaintenanceQueue, QUEUES, queuePlace } from "@usage/store";
import { eventually } from "@usage/testkit";
import { type Job, Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { startTestWorker, type WorkerHarness } from "./helper.ts";

describe("maintenance worker on a real queue", () => {
  let h: WorkerHarness;
  /** Untyped, as an older or newer producer would add jobs. */
  let raw: Queue;
  let typed: MaintenanceQueue;
  beforeAll(async () => {
    h = await startTestWorker();
    const keys = createKeys(h.workerConfig.redisPrefix);
    raw = new Queue(QUEUES.maintenance, { connection: h.redis, prefix: queuePlace(keys, QUEUES.maintenance).prefix });
    typed = createMaintenanceQueue(h.redis, keys);
  });
  afterAll(async () => {
    await raw?.close();
    await typed?.close();
    await h?.close();
  });

  const settled = (job: Job, state: "completed" | "failed") =>
    eventually(async () => ((await job.getState()) === state ? raw.getJob(job.id as string) : undefined), 10_000, `job ${state}`);

  it("fails a job of an unknown name at once, naming it in the failed set", async () => {
    const job = await raw.add("vacuum-everything", {}, { attempts: 3 });
    const failed = await settled(job, "failed");
    expect(failed?.failedReason).toBe('unknown maintenance job "vacuum-everything"');
    expect(failed?.attemptsMade).toBe(1);
    expect(await raw.getFailed()).toEqual(expect.arrayContaining([expect.objectContaining({ id: job.id })]));
  });

  it("fails a declared job whose payload breaks its schema, without retrying it", async () => {
    const job = await raw.add("reconcile", "not an object", { attempts: 3 });
    const failed = await settled(job, "failed");
    expect(failed?.failedReason).toBe("invalid reconcile payload");
    expect(failed?.attemptsMade).toBe(1);
  });

  it("runs a declared job by its handler", async () => {
    const job = await typed.add("ensure-partitions", {});
    const done = await settled(job, "completed");
    expect(done?.returnvalue).toEqual({ created: expect.any(Array) });
  });

  // Checked by the compiler (pnpm typecheck), not at run time.
  it("takes only declared names on the typed queue", () => {
    expectTypeOf(typed.add).parameter(0).toEqualTypeOf<MaintenanceJobName>();
    // @ts-expect-error an undeclared name does not compile
    expectTypeOf(typed.add).toBeCallableWith("vacuum-everything", {});
  });
});
