import { expect } from "vitest";
import { Driver, type DriverClient } from "./driver.ts";
import { type ScenarioResult, StorageWatch } from "./report.ts";
import type { System } from "./system.ts";

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One scenario: the load runs through every gateway of `system`, the fault strikes two
 * seconds in, the load stops two seconds after it ends and its failed requests are retried
 * until acknowledged; then the queue drains and every acknowledged hit is looked up in
 * Postgres. A fault that returns a string gives the report's notes (what it measured).
 */
export const runScenario = async (
  system: System,
  clients: DriverClient[],
  name: string,
  fault: () => Promise<unknown>,
): Promise<ScenarioResult & { pending: number }> => {
  const driver = new Driver(() => system.bases(), clients);
  const watch = new StorageWatch(system.env.db, driver.acked);
  driver.start();
  watch.start();
  try {
    await pause(2_000);
    const returned = await fault();
    const notes = typeof returned === "string" ? returned : "";
    await pause(2_000);
    await driver.stop();
    await watch.until(120_000);
    const failed = [...driver.errors].map(([kind, n]) => `${kind} ×${n}`).join(", ");
    const allNotes = [notes, failed === "" ? "" : `attempts not answered 202: ${failed}`].filter((note) => note !== "").join("; ");
    return { ...(await watch.result(name, driver, allNotes)), pending: driver.pending };
  } finally {
    // A fault that threw must not leave the load running into the next scenario.
    await driver.stop(0);
    watch.stop();
  }
};

export const expectExactlyOnce = (result: ScenarioResult & { pending: number }): void => {
  expect(result.acknowledged).toBeGreaterThan(100);
  expect(result, JSON.stringify(result)).toMatchObject({ pending: 0, lost: 0, duplicated: 0, rollupMismatches: 0 });
};
