import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { GroupCommit } from "../src/group-commit.ts";

type WireHit = [string, string, number];

const hit = (): WireHit => [randomUUID(), randomUUID(), Date.now()];

/** A flush that records its groups and completes when told to. */
const recorder = () => {
  const groups: WireHit[][] = [];
  const gates: Array<() => void> = [];
  let fail: Error | undefined;
  return {
    groups,
    release: () => {
      for (const open of gates.splice(0)) open();
    },
    failNext: (error: Error) => {
      fail = error;
    },
    flush: (hits: WireHit[]) => {
      groups.push(hits);
      const error = fail;
      fail = undefined;
      return new Promise<void>((resolve, reject) => gates.push(() => (error ? reject(error) : resolve())));
    },
  };
};

describe("GroupCommit", () => {
  it("makes the hits of one event-loop turn durable in one flush and releases them together", async () => {
    const r = recorder();
    const batcher = new GroupCommit<WireHit>({ maxItems: 500, lingerMs: 0, maxInFlight: 2, flush: r.flush });
    const done = Array.from({ length: 10 }, () => batcher.add([hit()]));
    let settled = 0;
    for (const d of done) void d.then(() => settled++);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.groups.map((g) => g.length)).toEqual([10]);
    expect(settled).toBe(0);
    r.release();
    await Promise.all(done);
    expect(settled).toBe(10);
  });

  it("lets groups grow while flushes are in flight, up to maxInFlight", async () => {
    const r = recorder();
    const batcher = new GroupCommit<WireHit>({ maxItems: 1000, lingerMs: 0, maxInFlight: 1, flush: r.flush });
    const first = batcher.add([hit()]);
    await new Promise((resolve) => setImmediate(resolve));
    const later = Array.from({ length: 5 }, () => batcher.add([hit(), hit()]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.groups.map((g) => g.length)).toEqual([1]);
    r.release();
    await first;
    // The slot frees after the waiters are released; the next group goes a turn later.
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(r.groups.map((g) => g.length)).toEqual([1, 10]);
    r.release();
    await Promise.all(later);
  });

  it("flushes at once when a group reaches maxHits", async () => {
    const r = recorder();
    const batcher = new GroupCommit<WireHit>({ maxItems: 3, lingerMs: 1000, maxInFlight: 1, flush: r.flush });
    const done = batcher.add([hit(), hit(), hit()]);
    expect(r.groups.map((g) => g.length)).toEqual([3]);
    r.release();
    await done;
  });

  it("rejects every waiter of a group whose flush failed, and only those", async () => {
    const r = recorder();
    const batcher = new GroupCommit<WireHit>({ maxItems: 500, lingerMs: 0, maxInFlight: 4, flush: r.flush });
    r.failNext(new Error("queue down"));
    const failing = [batcher.add([hit()]), batcher.add([hit()])];
    await new Promise((resolve) => setImmediate(resolve));
    const ok = batcher.add([hit()]);
    await new Promise((resolve) => setImmediate(resolve));
    r.release();
    await expect(Promise.all(failing)).rejects.toThrow("queue down");
    await expect(ok).resolves.toEqual([]);
  });

  it("gives each caller the results of its own items, in order", async () => {
    const batcher = new GroupCommit<number, string>({
      maxItems: 500,
      lingerMs: 0,
      maxInFlight: 1,
      flush: async (items) => items.map((n) => `r${n}`),
    });
    const [a, b, c] = await Promise.all([batcher.add([1, 2]), batcher.add([3]), batcher.add([4, 5, 6])]);
    expect([a, b, c]).toEqual([["r1", "r2"], ["r3"], ["r4", "r5", "r6"]]);
  });

  it("flushes when the items' weight, not their number, reaches maxItems", async () => {
    const groups: number[][] = [];
    const batcher = new GroupCommit<number>({
      maxItems: 10,
      weigh: (n) => n,
      lingerMs: 10_000,
      maxInFlight: 1,
      flush: async (items) => void groups.push(items),
    });
    await Promise.all([batcher.add([4]), batcher.add([6])]);
    expect(groups).toEqual([[4, 6]]);
    await batcher.close();
  });

  it("fails the group, and frees its slot, when the flush throws or answers the wrong number of results", async () => {
    let mode: "throw" | "short" | "ok" = "throw";
    const batcher = new GroupCommit<number, number>({
      maxItems: 500,
      lingerMs: 0,
      maxInFlight: 1,
      flush: (items) => {
        if (mode === "throw") throw new Error("sync boom");
        return Promise.resolve(mode === "short" ? items.slice(1) : items);
      },
    });
    await expect(batcher.add([1])).rejects.toThrow("sync boom");
    mode = "short";
    await expect(batcher.add([1, 2])).rejects.toThrow("1 results for 2 items");
    mode = "ok";
    await expect(batcher.add([3])).resolves.toEqual([3]);
  });

  describe("spacingMs", () => {
    // Wide enough that a loaded machine's timer delays stay small beside it.
    const SPACING_MS = 100;
    /** Longer than any test here waits: a group held by it has not been released by the spacing. */
    const LONG_MS = 2_000;
    /** A flush that completes at once and notes when each group started. */
    const timed = () => {
      const starts: number[] = [];
      const sizes: number[] = [];
      return {
        starts,
        sizes,
        flush: async (hits: WireHit[]) => {
          starts.push(performance.now());
          sizes.push(hits.length);
        },
      };
    };

    it("flushes an item at once when no flush started within the spacing", async () => {
      const t = timed();
      const batcher = new GroupCommit<WireHit>({ maxItems: 1000, lingerMs: 0, maxInFlight: 4, spacingMs: SPACING_MS, flush: t.flush });
      const first = performance.now();
      await batcher.add([hit()]);
      expect(performance.now() - first).toBeLessThan(SPACING_MS / 2);
      await new Promise((resolve) => setTimeout(resolve, SPACING_MS + 5));
      const second = performance.now();
      await batcher.add([hit()]);
      expect(performance.now() - second).toBeLessThan(SPACING_MS / 2);
      expect(t.sizes).toEqual([1, 1]);
    });

    it("under a steady load starts flushes at least the spacing apart, each carrying what gathered", async () => {
      const t = timed();
      const batcher = new GroupCommit<WireHit>({ maxItems: 1000, lingerMs: 0, maxInFlight: 4, spacingMs: SPACING_MS, flush: t.flush });
      const adds: Array<Promise<unknown>> = [];
      const until = performance.now() + 5 * SPACING_MS;
      while (performance.now() < until) {
        adds.push(batcher.add([hit()]));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await Promise.all(adds);
      // Without spacing, each add (its own timer turn) would have been a flush of its own.
      expect(t.sizes.reduce((sum, n) => sum + n, 0)).toBe(adds.length);
      expect(t.sizes.length).toBeLessThanOrEqual(7);
      expect(Math.max(...t.sizes)).toBeGreaterThan(5);
      for (let i = 1; i < t.starts.length; i++)
        expect((t.starts[i] as number) - (t.starts[i - 1] as number)).toBeGreaterThanOrEqual(SPACING_MS);
    });

    it("flushes a group the `spaced` rule releases as soon as a slot is free, without the spacing", async () => {
      const t = timed();
      const batcher = new GroupCommit<WireHit>({
        maxItems: 1000,
        lingerMs: 0,
        maxInFlight: 4,
        spacingMs: LONG_MS,
        spaced: ({ weight }) => weight < 5,
        flush: t.flush,
      });
      await batcher.add([hit()]);
      const started = performance.now();
      const small = batcher.add([hit()]);
      await batcher.add(Array.from({ length: 4 }, hit));
      await small;
      expect(performance.now() - started).toBeLessThan(LONG_MS / 2);
      // The small item waited for company, and went with the items that made the group large.
      expect(t.sizes).toEqual([1, 5]);
    });

    it("releases a group by its number of items too, whatever they weigh", async () => {
      const t = timed();
      const batcher = new GroupCommit<WireHit[]>({
        maxItems: 1000,
        weigh: (hits) => hits.length,
        lingerMs: 0,
        maxInFlight: 4,
        spacingMs: LONG_MS,
        spaced: ({ items }) => items < 3,
        flush: async (groups) => t.flush(groups.flat()),
      });
      await batcher.add([[hit()]]);
      const started = performance.now();
      await Promise.all([batcher.add([[hit()]]), batcher.add([[hit()]]), batcher.add([[hit()]])]);
      expect(performance.now() - started).toBeLessThan(LONG_MS / 2);
      expect(t.sizes).toEqual([1, 3]);
    });

    it("changes nothing without spacingMs: a group still gathers the whole event-loop turn", async () => {
      const t = timed();
      const batcher = new GroupCommit<WireHit>({ maxItems: 1000, lingerMs: 0, maxInFlight: 4, spaced: () => false, flush: t.flush });
      await Promise.all(Array.from({ length: 5 }, () => batcher.add([hit()])));
      expect(t.sizes).toEqual([5]);
    });

    it("flushes a full group without waiting for the spacing", async () => {
      const t = timed();
      const batcher = new GroupCommit<WireHit>({ maxItems: 10, lingerMs: 0, maxInFlight: 4, spacingMs: LONG_MS, flush: t.flush });
      await batcher.add([hit()]);
      const started = performance.now();
      await batcher.add(Array.from({ length: 10 }, hit));
      expect(performance.now() - started).toBeLessThan(LONG_MS / 2);
      expect(t.sizes).toEqual([1, 10]);
    });
  });

  it("flushes what waits on close and refuses later adds", async () => {
    const r = recorder();
    const batcher = new GroupCommit<WireHit>({ maxItems: 500, lingerMs: 10_000, maxInFlight: 1, flush: r.flush });
    const pending = batcher.add([hit(), hit()]);
    const closing = batcher.close();
    r.release();
    await closing;
    await pending;
    expect(r.groups.map((g) => g.length)).toEqual([2]);
    await expect(batcher.add([hit()])).rejects.toThrow("closed");
  });
});
