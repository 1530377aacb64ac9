import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { decideBatch, hitIndexOf } from "../src/batch-outcome.ts";
import { backoffMs, retryAfterSeconds } from "../src/http.ts";
import { UsageClient, type UsageError } from "../src/index.ts";

const answer = (status: number, body: unknown = {}, headers: Record<string, string> = {}) =>
  ({ kind: "answer", status, headers: new Headers(headers), text: JSON.stringify(body) }) as const;

describe("what a batch's answer means", () => {
  it("finds the index a 400 names, and only that", () => {
    expect(hitIndexOf('body/hits/3/ip must match format "ip"')).toBe(3);
    expect(hitIndexOf("body/hits/12/timestamp is more than 30 days in the past")).toBe(12);
    expect(hitIndexOf("body/hits/0 must have required property 'ip'")).toBe(0);
    expect(hitIndexOf("body/hits must NOT have more than 1000 items")).toBeUndefined();
    expect(hitIndexOf("body is not valid JSON")).toBeUndefined();
  });

  it("maps each status to its action", () => {
    expect(decideBatch(answer(202, { accepted: 3, duplicates: 1, ids: [] }), 4)).toEqual({ action: "sent", duplicates: 1 });
    expect(decideBatch(answer(400, { message: "body/hits/2/endpoint must match pattern" }), 4)).toMatchObject({
      action: "reject-one",
      index: 2,
    });
    expect(decideBatch(answer(400, { message: "body/hits/9/ip bad" }), 4)).toMatchObject({ action: "reject", code: "VALIDATION_ERROR" });
    expect(decideBatch(answer(401), 4)).toMatchObject({ action: "reject", code: "UNAUTHORIZED", status: 401 });
    expect(decideBatch(answer(403), 4)).toMatchObject({ action: "reject", code: "FORBIDDEN" });
    expect(decideBatch(answer(413), 4)).toMatchObject({ action: "split" });
    expect(decideBatch(answer(429, {}, { "x-ratelimit-remaining": "3" }), 10)).toMatchObject({ action: "fit", keep: 3 });
    expect(decideBatch(answer(429, {}, { "x-ratelimit-remaining": "0" }), 10)).toMatchObject({ action: "fit", keep: 0 });
    expect(decideBatch(answer(429), 10)).toMatchObject({ action: "fit", keep: 0 });
    expect(decideBatch(answer(408), 4)).toMatchObject({ action: "retry", code: "TIMEOUT" });
    expect(decideBatch(answer(500), 4)).toMatchObject({ action: "retry", code: "UNAVAILABLE" });
    expect(decideBatch(answer(503, {}, { "retry-after": "2" }), 4)).toMatchObject({ action: "retry", retryAfterSeconds: 2 });
    expect(decideBatch({ kind: "timeout" }, 4)).toMatchObject({ action: "retry", code: "TIMEOUT" });
    expect(decideBatch({ kind: "network", error: new TypeError("fetch failed") }, 4)).toMatchObject({
      action: "retry",
      code: "NETWORK_ERROR",
    });
    expect(decideBatch(answer(404), 4)).toMatchObject({ action: "reject", code: "HTTP_ERROR" });
  });

  it("backs off exponentially with full jitter, capped", () => {
    expect(backoffMs(0, () => 0.999)).toBeCloseTo(199.8);
    expect(backoffMs(3, () => 0.5)).toBe(800);
    expect(backoffMs(30, () => 1)).toBe(30_000);
    expect(backoffMs(5, () => 0)).toBe(0);
    const samples = new Set(Array.from({ length: 20 }, () => backoffMs(4)));
    expect(samples.size).toBeGreaterThan(1);
    for (const sample of samples) expect(sample).toBeLessThan(3200);
  });

  it("reads retry-after as seconds or an HTTP date", () => {
    expect(retryAfterSeconds(new Headers({ "retry-after": "7" }))).toBe(7);
    expect(retryAfterSeconds(new Headers({ "retry-after": new Date(60_000).toUTCString() }), 0)).toBe(60);
    expect(retryAfterSeconds(new Headers())).toBeUndefined();
  });
});

/** Statuses no real gateway gives on demand (503 with retry-after, a bare 500, 408): a scripted server. */
describe("retried answers, from a scripted server", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve()))));

  const scripted = async (script: Array<{ status: number; headers?: Record<string, string> }>) => {
    const seen: number[] = [];
    server = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        seen.push(Date.now());
        const step = script[Math.min(seen.length - 1, script.length - 1)] as { status: number; headers?: Record<string, string> };
        const body = step.status === 202 ? { accepted: 1, duplicates: 0, ids: [] } : { message: "scripted" };
        response.writeHead(step.status, { "content-type": "application/json", ...step.headers }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  };

  it("503 honours retry-after; 500 and 408 are retried; the batch then counts as sent", async () => {
    const { base, seen } = await scripted([
      { status: 503, headers: { "retry-after": "1" } },
      { status: 500 },
      { status: 408 },
      { status: 202 },
    ]);
    const errors: UsageError[] = [];
    const usage = new UsageClient({ baseUrl: base, apiKey: "uk_unit", onError: (e) => errors.push(e) });
    usage.track({ endpoint: "/a", ip: "192.0.2.1" });
    expect(await usage.flush()).toEqual({ sent: 1, rejected: 0, dropped: 0 });
    expect(seen).toHaveLength(4);
    expect((seen[1] as number) - (seen[0] as number)).toBeGreaterThanOrEqual(990);
    expect(errors.map((e) => [e.code, e.status, e.outcome])).toEqual([
      ["UNAVAILABLE", 503, "retrying"],
      ["UNAVAILABLE", 500, "retrying"],
      ["TIMEOUT", 408, "retrying"],
    ]);
    expect(usage.stats()).toMatchObject({ sent: 1, retried: 3 });
    await usage.shutdown();
  });

  it("record() is retried the same way", async () => {
    const { base, seen } = await scripted([
      { status: 502 },
      { status: 202, headers: { "x-ratelimit-limit": "5", "x-ratelimit-remaining": "4" } },
    ]);
    const usage = new UsageClient({ baseUrl: base, apiKey: "uk_unit", onError: () => {} });
    expect(await usage.record({ endpoint: "/a", ip: "192.0.2.1" })).toMatchObject({ accepted: true, limit: 5, remaining: 4 });
    expect(seen).toHaveLength(2);
  });
});
