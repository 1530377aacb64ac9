import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit } from "./helper.ts";

const QUOTA = 20;

describe("per-client hourly quota", () => {
  let gw: GatewayHarness;
  beforeAll(async () => {
    gw = await buildGateway({ RATE_LIMIT_PER_HOUR: String(QUOTA) });
  });
  afterAll(async () => gw.close());

  const post = (apiKey: string, payload: Record<string, unknown>) =>
    gw.inject({ method: "POST", url: "/api/logs", headers: { "x-api-key": apiKey }, payload });
  const batch = (apiKey: string, hits: unknown[]) =>
    gw.inject({ method: "POST", url: "/api/logs/batch", headers: { "x-api-key": apiKey }, payload: { hits } });

  it("accepts exactly the quota when more hits arrive at once, and never counts the rest", async () => {
    const { api_key } = await gw.register();
    const responses = await Promise.all(Array.from({ length: QUOTA * 3 }, () => post(api_key, hit())));
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 202)).toHaveLength(QUOTA);
    expect(statuses.filter((s) => s === 429)).toHaveLength(QUOTA * 2);
    const limited = responses.find((r) => r.statusCode === 429)!;
    expectError(limited, 429, "RATE_LIMITED");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.headers["x-ratelimit-remaining"]).toBe("0");
    expect(limited.headers["x-ratelimit-limit"]).toBe(String(QUOTA));
    const token = await gw.tokenFor(api_key);
    const daily = await gw.inject({ method: "GET", url: "/api/usage/daily", headers: { authorization: `Bearer ${token}` } });
    const today = daily.json().data[0].days.at(-1);
    expect(today.total_requests).toBe(QUOTA);
  });

  it("refuses a batch that does not fit whole, counting none of it, then takes one that fits", async () => {
    const { api_key } = await gw.register();
    expect(
      (
        await batch(
          api_key,
          Array.from({ length: QUOTA - 5 }, () => hit()),
        )
      ).statusCode,
    ).toBe(202);
    const tooBig = await batch(
      api_key,
      Array.from({ length: 6 }, () => hit()),
    );
    expectError(tooBig, 429, "RATE_LIMITED");
    expect(tooBig.headers["x-ratelimit-remaining"]).toBe("5");
    const fits = await batch(
      api_key,
      Array.from({ length: 5 }, () => hit()),
    );
    expect(fits.statusCode, fits.body).toBe(202);
    expect(fits.headers["x-ratelimit-remaining"]).toBe("0");
  });

  it("lets duplicates through for free once the quota is spent", async () => {
    const { api_key } = await gw.register();
    const eventId = randomUUID();
    expect((await post(api_key, hit({ event_id: eventId }))).statusCode).toBe(202);
    expect(
      (
        await batch(
          api_key,
          Array.from({ length: QUOTA - 1 }, () => hit()),
        )
      ).statusCode,
    ).toBe(202);
    expectError(await post(api_key, hit()), 429, "RATE_LIMITED");
    const again = await post(api_key, hit({ event_id: eventId }));
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json().duplicate).toBe(true);
  });

  it("honours a per-client override kept with the client", async () => {
    const client = await gw.register();
    await gw.db.updateTable("clients").set({ rate_limit_per_hour: 3 }).where("client_id", "=", client.client_id).execute();
    // First use of the key: the override is read with the client.
    const responses = [];
    for (let i = 0; i < 4; i++) responses.push(await post(client.api_key, hit()));
    expect(responses.map((r) => r.statusCode)).toEqual([202, 202, 202, 429]);
    expect(responses[0]?.headers["x-ratelimit-limit"]).toBe("3");
  });

  it("resets at the top of the UTC hour (fixed window)", async () => {
    const { api_key } = await gw.register();
    const response = await post(api_key, hit());
    const reset = Number(response.headers["x-ratelimit-reset"]);
    const secondsToHour = Math.ceil((3_600_000 - (Date.now() % 3_600_000)) / 1000);
    expect(Math.abs(reset - secondsToHour)).toBeLessThanOrEqual(2);
  });
});
