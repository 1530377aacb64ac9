import { randomUUID } from "node:crypto";
import { toWireHit, type WireHit } from "@usage/contract";
import { Format, IsUuid } from "typebox/format";
import { describe, expect, it } from "vitest";
import { hitBatchValidator } from "../src/queue.ts";
import { isUuid } from "../src/uuid.ts";

/** Every position of a few UUIDs replaced by characters on both sides of each range checked. */
const corpus = (): string[] => {
  const seeds = [randomUUID(), randomUUID().toUpperCase(), "0123abcd-4567-89ef-ABCD-0123456789Ef", "ffffffff-ffff-ffff-ffff-ffffffffffff"];
  const swaps = ["0", "9", "a", "f", "A", "F", "g", "G", "/", ":", "@", "`", "-", " ", "\n", "\u00e9", "\u0661", "\uff41", "\u0000"];
  const out = ["", "-", "0".repeat(36), "-".repeat(36), `${seeds[0]}\n`, ` ${seeds[0]}`, (seeds[0] as string).slice(1), `${seeds[0]}0`];
  for (const seed of seeds) {
    out.push(seed, seed.replaceAll("-", ""), `{${seed}}`);
    for (let at = 0; at < seed.length; at++) for (const swap of swaps) out.push(seed.slice(0, at) + swap + seed.slice(at + 1));
  }
  return out;
};

describe("uuid format", () => {
  it("accepts exactly the strings TypeBox's own check accepts", () => {
    const strings = corpus();
    expect(strings.length).toBeGreaterThan(2500);
    const accepted = strings.filter((text) => IsUuid(text));
    expect(accepted.length).toBeGreaterThan(100);
    for (const text of strings) expect([text, isUuid(text)]).toEqual([text, IsUuid(text)]);
  });

  it("is registered as TypeBox's uuid format, and the hit-batch validator still refuses a bad id", () => {
    expect(Format.Get("uuid")).toBe(isUuid);
    const hit = (id: string): WireHit =>
      toWireHit({ clientId: randomUUID(), id, ts: 1, receivedAt: 1, ip: "203.0.113.7", method: "GET", status: 200, endpoint: "/v1" });
    expect(hitBatchValidator.Check({ v: 1, hits: [hit(randomUUID())] })).toBe(true);
    expect(hitBatchValidator.Check({ v: 1, hits: [hit(`${randomUUID().slice(0, 35)}g`)] })).toBe(false);
  });
});
