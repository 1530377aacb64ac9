import { isIP } from "node:net";
import { describe, expect, it } from "vitest";
import { encodeHit } from "../src/encode.ts";
import { isIp, toWireHit } from "../src/hit.ts";
import { UsageClient } from "../src/index.ts";

const client = () => new UsageClient({ baseUrl: "http://127.0.0.1:9", apiKey: "uk_unit", flushIntervalMs: 3_600_000, onError: () => {} });

describe("track(): synchronous, and a TypeError only for a hit that can never be valid", () => {
  it("returns a generated UUID event id, or the hit's own, and buffers the hit", async () => {
    const usage = client();
    const id = usage.track({ endpoint: "/v1/orders", ip: "203.0.113.7" });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const own = "0B8A3C0E-1D2F-4A5B-8C6D-7E8F9A0B1C2D";
    expect(usage.track({ endpoint: "/a", ip: "::1", eventId: own })).toBe(own);
    expect(usage.stats()).toMatchObject({ queued: 2, inFlight: 0 });
    await usage.shutdown({ timeoutMs: 10 });
  });

  it.each([
    ["an IP that is not one", { endpoint: "/a", ip: "203.0.113.256" }],
    ["an IP with a zone", { endpoint: "/a", ip: "fe80::1%eth0" }],
    ["an empty IP", { endpoint: "/a", ip: "" }],
    ["an endpoint not starting with /", { endpoint: "v1/orders", ip: "192.0.2.1" }],
    ["an empty endpoint", { endpoint: "", ip: "192.0.2.1" }],
    ["an endpoint over 2048 characters", { endpoint: `/${"a".repeat(2048)}`, ip: "192.0.2.1" }],
    ["an endpoint with NUL", { endpoint: "/a\0b", ip: "192.0.2.1" }],
    ["a status out of range", { endpoint: "/a", ip: "192.0.2.1", status: 600 }],
    ["a status that is not an integer", { endpoint: "/a", ip: "192.0.2.1", status: 200.5 }],
    ["a method that is not HTTP's", { endpoint: "/a", ip: "192.0.2.1", method: "FETCH" }],
    ["an eventId that is not a UUID", { endpoint: "/a", ip: "192.0.2.1", eventId: "42" }],
    ["a timestamp that is not RFC 3339", { endpoint: "/a", ip: "192.0.2.1", timestamp: "yesterday" }],
    ["an invalid Date", { endpoint: "/a", ip: "192.0.2.1", timestamp: new Date(Number.NaN) }],
  ])("throws a TypeError for %s", async (_what, bad) => {
    const usage = client();
    expect(() => usage.track(bad as never)).toThrow(TypeError);
    expect(usage.stats()).toMatchObject({ queued: 0, dropped: 0 });
    await usage.shutdown({ timeoutMs: 10 });
  });

  it("takes what the service takes: lower-case methods, Date, epoch ms and RFC 3339 timestamps; defaults to now", () => {
    const id = () => "00000000-0000-4000-8000-000000000000";
    const at = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    const serialized = (hit: Parameters<typeof toWireHit>[0]) =>
      JSON.parse(new TextDecoder().decode(encodeHit(toWireHit(hit, id)))) as Record<string, unknown>;
    expect(serialized({ endpoint: "/a", ip: "192.0.2.1", method: "post", status: 201, timestamp: at })).toEqual({
      ip: "192.0.2.1",
      endpoint: "/a",
      timestamp: "2026-01-02T03:04:05.006Z",
      method: "POST",
      status: 201,
      event_id: "00000000-0000-4000-8000-000000000000",
    });
    expect(serialized({ endpoint: "/a", ip: "::1", timestamp: new Date(at) }).timestamp).toBe("2026-01-02T03:04:05.006Z");
    expect(serialized({ endpoint: "/a", ip: "::1", timestamp: "2026-01-02T03:04:05+01:00" }).timestamp).toBe("2026-01-02T03:04:05+01:00");
    // Absent fields stay absent on the wire.
    expect(Object.keys(serialized({ endpoint: "/a", ip: "::1" })).sort()).toEqual(["endpoint", "event_id", "ip", "timestamp"]);
    const before = Date.now();
    const now = Date.parse(serialized({ endpoint: "/a", ip: "::1" }).timestamp as string);
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it("a timestamp the server will refuse (too old) is not the SDK's to judge: accepted here", () => {
    expect(() => client().track({ endpoint: "/a", ip: "192.0.2.1", timestamp: new Date(0) })).not.toThrow();
  });

  it("without an API key anywhere, track() throws a TypeError", () => {
    const usage = new UsageClient({ baseUrl: "http://127.0.0.1:9", onError: () => {} });
    expect(() => usage.track({ endpoint: "/a", ip: "192.0.2.1" })).toThrow(TypeError);
  });

  it("checks its options: flushAt 1..1000, an absolute http(s) baseUrl", () => {
    expect(() => new UsageClient({ baseUrl: "http://x", flushAt: 0 })).toThrow(/flushAt/);
    expect(() => new UsageClient({ baseUrl: "http://x", flushAt: 1001 })).toThrow(/flushAt/);
    expect(() => new UsageClient({ baseUrl: "/relative" })).toThrow(/baseUrl/);
    expect(() => new UsageClient({ baseUrl: "ftp://x" })).toThrow(/baseUrl/);
    expect(() => new UsageClient({ baseUrl: "http://x", maxBatchBytes: 100 })).toThrow(/maxBatchBytes/);
  });
});

describe("the address check is the gateway's (Node's isIP, no zone)", () => {
  const samples = [
    "0.0.0.0",
    "255.255.255.255",
    "1.2.3.04",
    "01.2.3.4",
    "1.2.3",
    "1.2.3.4.5",
    "::",
    "::1",
    "1::",
    "::ffff:192.0.2.1",
    "64:ff9b::192.0.2.33",
    "2001:db8::1",
    "2001:DB8:0:0:0:0:0:1",
    "2001:db8:0:0:0:0:0:0:1",
    "2001:db8:::1",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "1:2:3:4:5:6:1.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4",
    "12345::1",
    "g::1",
    ":1::",
    "1:",
    " 1.2.3.4",
    "1.2.3.4 ",
  ];
  it("agrees with net.isIP on chosen and random addresses", () => {
    const random = (): string => {
      const hex = () => Math.floor(Math.random() * 0x10000).toString(16);
      const parts = Array.from({ length: 1 + Math.floor(Math.random() * 9) }, hex);
      const cut = Math.floor(Math.random() * parts.length);
      return Math.random() < 0.5 ? parts.join(":") : `${parts.slice(0, cut).join(":")}::${parts.slice(cut + 1).join(":")}`;
    };
    for (const address of [...samples, ...Array.from({ length: 5000 }, random)]) {
      expect([address, isIp(address)]).toEqual([address, isIP(address) !== 0]);
    }
  });
});
