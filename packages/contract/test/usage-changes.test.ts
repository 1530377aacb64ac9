import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeUsageChanges, encodeUsageChanges } from "../src/usage-changes.ts";

describe("the worker → gateway change message", () => {
  const change = { client_id: randomUUID(), date: "2026-12-03", delta: 2, total_requests: 7 };

  it("round-trips what the worker encodes", () => {
    expect(decodeUsageChanges(encodeUsageChanges([change, { ...change, date: "2026-12-02" }]))).toEqual([
      change,
      { ...change, date: "2026-12-02" },
    ]);
  });

  it("keeps only the four fields of a change, so nothing else (a stray type) reaches a socket", () => {
    const decoded = decodeUsageChanges(JSON.stringify([{ ...change, type: "usage.snapshot", secret: "x" }]));
    expect(decoded).toEqual([change]);
  });

  it("drops invalid entries and refuses a message that is not a JSON array", () => {
    expect(decodeUsageChanges(JSON.stringify([{ ...change, delta: "2" }, change, null]))).toEqual([change]);
    expect(decodeUsageChanges("not json")).toBeUndefined();
    expect(decodeUsageChanges(JSON.stringify(change))).toBeUndefined();
  });
});
