import { randomUUID } from "node:crypto";
import { epochHour, HOUR_MS, utcDay } from "@usage/core";
import { createRedisTestEnv } from "@usage/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { bucketOf } from "../src/buckets.ts";
import { countHeader, decodeReply, encodeCall, encodeRequest, QUOTA_TTL_S } from "../src/count-protocol.ts";
import { createKeys } from "../src/keys.ts";
import { scriptsOf } from "../src/scripts.ts";
import { clientInBucket, clientsInOneBucket } from "./bucket-clients.ts";

describe("counting protocol: encode, the real scripts, decode", () => {
  const env = createRedisTestEnv();
  const keys = createKeys(env.prefix);
  const scripts = scriptsOf(env.redis);
  afterAll(async () => env.cleanup());

  it("puts the bucket keys first, then the header, then each request's part behind its key's index", () => {
    const now = Date.UTC(2026, 11, 3, 10, 30);
    const client = randomUUID();
    const other = clientInBucket((bucketOf(client) + 1) % 128);
    const ev = randomUUID();
    const request = encodeRequest(
      keys,
      client,
      50,
      [
        { eventId: ev, ts: now },
        { eventId: null, ts: now },
        { eventId: null, ts: now - 1 },
      ],
      now,
    );
    expect(request.args).toEqual([
      keys.clientPrefix(client),
      epochHour(now),
      client,
      50,
      0,
      1,
      1,
      ev,
      now,
      utcDay(now),
      epochHour(now),
      utcDay(now),
      epochHour(now),
      2,
    ]);
    expect(request.bucket).toBe(bucketOf(client));
    const second = encodeRequest(keys, other, 5, [{ eventId: null, ts: now }], now);
    expect(encodeCall(keys, [request, second, request])).toEqual({
      keys: [keys.versionShare(bucketOf(client)), keys.versionShare(bucketOf(other))],
      args: [...countHeader(), 1, ...request.args, 2, ...second.args, 1, ...request.args],
    });
  });

  it("round-trips a group of requests through count-hits: outcomes per request, marks per event id", async () => {
    const now = Date.now();
    // One bucket, so the call is one slot on a cluster too.
    const [a, b] = clientsInOneBucket(2) as [string, string];
    const [ev1, ev2] = [randomUUID(), randomUUID()];
    const requests = [
      encodeRequest(
        keys,
        a,
        3,
        [
          { eventId: null, ts: now },
          { eventId: ev1, ts: now - 5 },
        ],
        now,
      ),
      // Over a's quota after the first request: refused whole.
      encodeRequest(
        keys,
        a,
        3,
        [
          { eventId: null, ts: now },
          { eventId: null, ts: now },
        ],
        now,
      ),
      // ev1 again (a duplicate, free) and a new one.
      encodeRequest(
        keys,
        a,
        3,
        [
          { eventId: ev1, ts: now },
          { eventId: ev2, ts: now + 1 },
        ],
        now,
      ),
      encodeRequest(keys, b, 1, [{ eventId: ev1, ts: now }], now),
    ];
    const outcomes = decodeReply(await scripts.countHits(encodeCall(keys, requests)), requests);
    expect(outcomes).toEqual([
      { accepted: true, used: 2, priorTs: [null, null] },
      { accepted: false, used: 2, priorTs: [] },
      { accepted: true, used: 3, priorTs: [now - 5, null] },
      { accepted: true, used: 1, priorTs: [null] },
    ]);
    expect(Number(await env.redis.get(keys.quota(a, epochHour(now))))).toBe(3);
    expect(await env.redis.ttl(keys.quota(a, epochHour(now)))).toBeLessThanOrEqual(QUOTA_TTL_S);
  });

  it("uncount-hits reads the same encoding and takes back exactly what was counted", async () => {
    const now = Date.now();
    const client = randomUUID();
    const ev = randomUUID();
    const hits = [
      { eventId: ev, ts: now },
      { eventId: null, ts: now - HOUR_MS },
    ];
    const request = encodeRequest(keys, client, 10, hits, now);
    const [counted] = decodeReply(await scripts.countHits(encodeCall(keys, [request])), [request]);
    expect(counted).toEqual({ accepted: true, used: 2, priorTs: [null, null] });
    const versionShare = keys.versionShare(bucketOf(client));
    const versionBefore = Number(await env.redis.get(versionShare));

    const taken = await scripts.uncountHits(encodeCall(keys, [encodeRequest(keys, client, 0, hits, now)]));
    expect(taken).toBe(2);
    expect(Number(await env.redis.get(keys.quota(client, epochHour(now))))).toBe(0);
    expect(Number(await env.redis.get(keys.day(client, utcDay(now))))).toBe(0);
    expect(await env.redis.get(`${keys.clientPrefix(client)}ev:${ev}`)).toBeNull();
    expect(Number(await env.redis.get(versionShare))).toBe(versionBefore + 1);
    // The event id counts as new again.
    const again = encodeRequest(keys, client, 10, [{ eventId: ev, ts: now }], now);
    expect(decodeReply(await scripts.countHits(encodeCall(keys, [again])), [again])).toEqual([
      { accepted: true, used: 1, priorTs: [null] },
    ]);
  });
});
