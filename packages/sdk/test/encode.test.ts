import { describe, expect, it } from "vitest";
import { encodeBatch, encodeHit, LARGEST_HIT } from "../src/encode.ts";
import { toWireHit, type WireHit } from "../src/hit.ts";

/** What the body should say of a hit, by JSON.stringify (absent method and status left out). */
const reference = (hit: WireHit): unknown =>
  JSON.parse(
    JSON.stringify({ ...hit, timestamp: typeof hit.timestamp === "number" ? new Date(hit.timestamp).toISOString() : hit.timestamp }),
  );

const id = () => globalThis.crypto.randomUUID();
const decode = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(bytes));
const hitsOf = (endpoints: string[], extra: Record<string, unknown> = {}): WireHit[] =>
  endpoints.map((endpoint, i) => toWireHit({ endpoint, ip: i % 2 ? "2001:db8::7" : "198.51.100.4", ...extra }, id));

describe("batch bodies written as bytes", () => {
  const hostile = [
    "/plain",
    '/quote"s',
    "/back\\slash",
    "/new\nline\ttab\u0001\u001f\u007f",
    "/ünïcode/😀",
    "/\u2028\u2029",
    "/lone\ud800",
    "/x",
  ];

  it("parse back into exactly the hits, as JSON.stringify would write them, with every field combination", () => {
    const combos = [
      {},
      { method: "GET" },
      { status: 204 },
      { method: "DELETE", status: 500 },
      { timestamp: "2026-01-02 03:04:05.5+0100" },
      { timestamp: -1 },
    ];
    for (const extra of combos) {
      const hits = hitsOf(hostile, extra);
      const { body, count } = encodeBatch(hits, new Uint8Array(64 * 1024), 64 * 1024);
      expect(count).toBe(hits.length);
      expect(decode(body)).toEqual({ hits: hits.map((hit) => reference(hit)) });
    }
  });

  it("writes timestamps as Date#toISOString does", () => {
    const times = [0, 999, 59_999, 60_000, -1, -60_001, Date.now(), 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000];
    for (let i = 0; i < 2000; i++) times.push(Math.floor((Math.random() - 0.3) * 4e12));
    const hits = times.map((timestamp) => toWireHit({ endpoint: "/t", ip: "::1", timestamp }, id));
    const { body } = encodeBatch(hits, new Uint8Array(2_000_000), 2_000_000);
    expect((decode(body) as { hits: Array<{ timestamp: string }> }).hits.map((h) => h.timestamp)).toEqual(
      times.map((t) => new Date(t).toISOString()),
    );
  });

  it("stops before the byte limit (never below one hit), exactly at the last hit that fits", () => {
    const hits = hitsOf(Array.from({ length: 100 }, (_, i) => `/v1/items/${i}/${"é".repeat(i % 7)}`));
    const whole = encodeBatch(hits, new Uint8Array(64 * 1024), 64 * 1024);
    for (const limit of [1, 200, 1000, 5000, whole.body.length - 1, whole.body.length]) {
      const { body, count } = encodeBatch(hits, new Uint8Array(64 * 1024), limit);
      expect(count).toBeGreaterThanOrEqual(1);
      if (count > 1) expect(body.length).toBeLessThanOrEqual(limit);
      expect(decode(body)).toEqual({ hits: hits.slice(0, count).map((hit) => reference(hit)) });
      if (count < hits.length) {
        const oneMore = encodeBatch(hits.slice(0, count + 1), new Uint8Array(64 * 1024), 64 * 1024);
        expect(oneMore.body.length).toBeGreaterThan(limit);
      }
    }
  });

  it("one hit alone (POST /api/logs) is the same JSON", () => {
    for (const hit of hitsOf(hostile, { method: "PUT", status: 201 })) expect(decode(encodeHit(hit))).toEqual(reference(hit));
  });

  it("a lone hit larger than the buffer gets a buffer of its own", () => {
    const [hit] = hitsOf([`/${'"'.repeat(2047)}`]);
    expect(LARGEST_HIT).toBeGreaterThan(2048 * 6);
    const small = new Uint8Array(100);
    const { body, count } = encodeBatch([hit as WireHit], small, 100);
    expect(count).toBe(1);
    expect(body.buffer).not.toBe(small.buffer);
    expect(decode(body)).toEqual({ hits: [reference(hit as WireHit)] });
  });
});
