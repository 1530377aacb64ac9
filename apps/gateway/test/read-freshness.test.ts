import { createLogger } from "@usage/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";
import { buildGateway, type GatewayHarness, hit, type TestClient } from "./helper.ts";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("cached reads are never stale", () => {
  let gw: GatewayHarness;
  let client: TestClient;
  let clientToken: string;
  let admin: string;
  beforeAll(async () => {
    gw = await buildGateway({ RATE_LIMIT_PER_HOUR: "100000" });
    client = await gw.register("Fresh");
    clientToken = await gw.tokenFor(client.api_key);
    admin = await gw.adminToken();
  });
  afterAll(async () => gw.close());

  const post = (n: number) =>
    gw.inject({
      method: "POST",
      url: "/api/logs/batch",
      headers: { "x-api-key": client.api_key },
      payload: { hits: Array.from({ length: n }, () => hit()) },
    });
  const read = async (url: string, token: string) => {
    const response = await gw.inject({ method: "GET", url, headers: { authorization: `Bearer ${token}` } });
    return { cache: response.headers["x-cache"], body: response.json() };
  };
  const todayOf = (body: { data: Array<{ days: Array<{ total_requests: number }> }> }) => body.data[0]?.days[6]?.total_requests;
  const topOf = (body: { data: Array<{ client_id: string; total_requests: number }> }) =>
    body.data.find((r) => r.client_id === client.client_id)?.total_requests;

  it("reflects every hit one second after its 202, in daily and top, again and again", async () => {
    let expected = 0;
    let lastTop = 0;
    for (let round = 1; round <= 4; round++) {
      expect((await post(round)).statusCode).toBe(202);
      expected += round;
      await pause(1000);
      expect(todayOf((await read("/api/usage/daily", clientToken)).body)).toBe(expected);
      const top = topOf((await read("/api/usage/top", admin)).body);
      expect(top).toBe(expected);
      // Counts never go down between two reads.
      expect(top).toBeGreaterThanOrEqual(lastTop);
      lastTop = top ?? 0;
    }
  });

  it("keeps the top list fresh in the background: a read 600 ms after a hit is already a HIT with it", async () => {
    const before = topOf((await read("/api/usage/top", admin)).body) ?? 0;
    await post(5);
    await pause(600);
    const after = await read("/api/usage/top", admin);
    expect(after.cache).toBe("HIT");
    expect(topOf(after.body)).toBe(before + 5);
  });

  it("pre-warms a starting gateway: an active client's first daily read is a HIT", async () => {
    await read("/api/usage/daily", clientToken);
    await post(1);
    const second = await buildApp(gw.config, { logger: createLogger("second", "silent") });
    try {
      await second.ready();
      const response = await second.inject({ method: "GET", url: "/api/usage/daily", headers: { authorization: `Bearer ${clientToken}` } });
      expect(response.headers["x-cache"]).toBe("HIT");
    } finally {
      await second.close();
    }
  });
});
