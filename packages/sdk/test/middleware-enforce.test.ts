import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageClient } from "../src/index.ts";
import { request, startExpressApp, startFastifyApp, storedHits, type UserApp } from "./apps.ts";
import { type Stack, startStack } from "./helpers.ts";

const QUOTA = 2;
const HOUR_MS = 3_600_000;

describe.each([
  ["Fastify", startFastifyApp],
  ["Express", startExpressApp],
] as const)("%s middleware with enforce: the service as the user's rate limiter", (_name, start) => {
  let stack: Stack;
  let usage: UsageClient;
  let app: UserApp;
  beforeAll(async () => {
    stack = await startStack({ RATE_LIMIT_PER_HOUR: String(QUOTA) });
    usage = new UsageClient({ baseUrl: stack.base, onError: () => {} });
    app = await start({ client: usage, enforce: true });
  });
  afterAll(async () => {
    await app?.close();
    await usage?.shutdown();
    await stack?.stop();
  });

  it("counts each request before its handler, answers 429 with retry-after over quota, lets keyless requests through", async () => {
    // The quota is per fixed UTC hour: do not straddle its end.
    const left = HOUR_MS - (Date.now() % HOUR_MS);
    if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 100));
    const { apiKey, clientId } = await stack.register();
    const first = await request(app.base, "/v1/orders/1", apiKey);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit")).toBe(String(QUOTA));
    expect(first.headers.get("x-ratelimit-remaining")).toBe("1");
    expect((await request(app.base, "/v1/orders/2", apiKey)).status).toBe(200);
    expect(app.handled.count).toBe(2);

    const refused = await request(app.base, "/v1/orders/3", apiKey);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(await refused.json()).toMatchObject({ statusCode: 429, code: "RATE_LIMITED" });
    // The user's code never ran for it.
    expect(app.handled.count).toBe(2);

    expect((await request(app.base, "/v1/orders/4")).status).toBe(200);
    expect(app.handled.count).toBe(3);
    // Each counted once, by the check itself (before the handler, so without a status).
    const stored = await storedHits(stack, usage, clientId, QUOTA);
    expect(stored).toHaveLength(QUOTA);
    for (const hit of stored) expect(hit).toMatchObject({ method: "GET", status: null, ip: "127.0.0.1" });
    expect(usage.stats()).toMatchObject({ queued: 0, inFlight: 0, sent: 0 });
  });
});
