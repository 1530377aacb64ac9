import { describe, expect, it } from "vitest";
import { cappedBackoff, RETRY_CAP_MS } from "../src/queue.ts";

describe("capped backoff", () => {
  it("grows exponentially, never passes the cap, and jitters within the upper half", () => {
    for (let attempt = 1; attempt <= 40; attempt++) {
      const ceiling = Math.min(RETRY_CAP_MS, 250 * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const delay = cappedBackoff(attempt);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2 - 1);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
    const samples = new Set(Array.from({ length: 50 }, () => cappedBackoff(30)));
    expect(samples.size).toBeGreaterThan(1);
  });
});
