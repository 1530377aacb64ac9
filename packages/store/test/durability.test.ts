import { type PrivateRedis, startPrivateRedis } from "@usage/testkit";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { durabilityRisks } from "../src/durability.ts";

describe("Redis durability check", () => {
  let server: PrivateRedis | undefined;
  let client: Redis | undefined;
  afterEach(async () => {
    client?.disconnect();
    await server?.stop();
  });

  it("warns about a Redis without AOF or with eviction", async () => {
    server = await startPrivateRedis();
    client = new Redis(server.url);
    await client.config("SET", "maxmemory-policy", "allkeys-lru");
    const risks = await durabilityRisks(client);
    expect(risks).toHaveLength(2);
    expect(risks[0]).toMatch(/appendonly is off/);
    expect(risks[1]).toMatch(/maxmemory-policy is allkeys-lru/);
  });

  it("is satisfied by AOF with noeviction", async () => {
    server = await startPrivateRedis({ aof: true, appendfsync: "everysec" });
    client = new Redis(server.url);
    expect(await durabilityRisks(client)).toEqual([]);
  });
});
