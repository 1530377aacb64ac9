import { createKeys, readOpsSnapshot } from "@usage/store";
import { eventually } from "@usage/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { startTestWorker, type WorkerHarness } from "./helper.ts";

describe("worker heartbeat", () => {
  let h: WorkerHarness | undefined;
  afterAll(async () => h?.close());

  it("is counted as a worker while it runs and counted out as soon as it closes", async () => {
    h = await startTestWorker();
    const keys = createKeys(h.workerConfig.redisPrefix);
    const live = await eventually(async () => {
      const snapshot = await readOpsSnapshot(h!.redis, keys);
      return snapshot.workers === 1 ? snapshot : undefined;
    });
    expect(live).toMatchObject({ workers: 1, gateways: 0 });
    await h.worker.close();
    expect(await readOpsSnapshot(h.redis, keys)).toMatchObject({ workers: 0 });
  });
});
