import { describe, expect, it } from "vitest";
import { createExportPacer, FLOWING_HITS_PER_S, HitFlow } from "../src/exports/ingest-pacer.ts";

describe("HitFlow", () => {
  it("counts the hits of the current and the last second, and forgets older ones", () => {
    const flow = new HitFlow();
    flow.record(300, 10_000);
    flow.record(200, 10_900);
    expect(flow.perSecond(10_999)).toBe(500);
    flow.record(50, 11_100);
    // The last whole second (500) is more than this one so far (50).
    expect(flow.perSecond(11_200)).toBe(500);
    // Two seconds on, the 500 are no longer the last second's.
    expect(flow.perSecond(12_500)).toBe(50);
    expect(flow.perSecond(14_000)).toBe(0);
  });
});

describe("the export pacer", () => {
  const timed = async (pause: Promise<void>): Promise<number> => {
    const started = performance.now();
    await pause;
    return performance.now() - started;
  };

  it("does not pause an export while no hits are stored", async () => {
    const pacer = createExportPacer(new HitFlow(), 50);
    expect(await timed(pacer.pause(400, new AbortController().signal))).toBeLessThan(50);
  });

  it("rests as long as the chunk took at 50 % while hits flow", async () => {
    const flow = new HitFlow();
    flow.record(FLOWING_HITS_PER_S);
    expect(await timed(createExportPacer(flow, 50).pause(200, new AbortController().signal))).toBeGreaterThanOrEqual(195);
  });

  it("rests three times the chunk's time at 75 %, ends a rest when the run stops, and does not rest at 0 %", async () => {
    const flow = new HitFlow();
    flow.record(FLOWING_HITS_PER_S * 10);
    expect(await timed(createExportPacer(flow, 75).pause(100, new AbortController().signal))).toBeGreaterThanOrEqual(295);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const stopped = await timed(createExportPacer(flow, 90).pause(5_000, stop.signal));
    expect(stopped).toBeGreaterThanOrEqual(295);
    expect(stopped).toBeLessThan(1_000);
    expect(await timed(createExportPacer(flow, 0).pause(400, new AbortController().signal))).toBeLessThan(50);
  });

  it("does not pause below the flowing rate", async () => {
    const flow = new HitFlow();
    flow.record(FLOWING_HITS_PER_S - 1);
    expect(await timed(createExportPacer(flow, 50).pause(400, new AbortController().signal))).toBeLessThan(50);
  });
});
