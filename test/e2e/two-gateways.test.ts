import { randomUUID } from "node:crypto";
import { type AppProcess, call, createTestEnv, spawnGateway, type TestEnv } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const QUOTA = 40;

/** The quota is exact across processes: both gateways share one atomic counter in Redis. */
describe("quota across two gateway processes", () => {
  let env: TestEnv;
  let gateways: AppProcess[];

  beforeAll(async () => {
    env = await createTestEnv({ RATE_LIMIT_PER_HOUR: String(QUOTA), LOG_LEVEL: "warn" });
    gateways = await Promise.all([spawnGateway(env.env), spawnGateway(env.env)]);
  });
  afterAll(async () => {
    for (const g of gateways ?? []) g.child.kill("SIGTERM");
    await Promise.all((gateways ?? []).map((g) => g.exited));
    await env?.cleanup();
  });

  const hit = () => ({ ip: "192.0.2.9", endpoint: "/q", timestamp: new Date().toISOString() });

  it("accepts exactly Q of N > Q hits sent at once through both, and counts only those", async () => {
    const [a, b] = gateways as [AppProcess, AppProcess];
    const client = (await call(a.base, "POST", "/api/register", { name: "Q", email: `${randomUUID()}@example.com` })).body;
    const key = client.api_key as string;
    const n = QUOTA * 3;
    const responses = await Promise.all(
      Array.from({ length: n }, (_, i) => call(i % 2 === 0 ? a.base : b.base, "POST", "/api/logs", hit(), { "x-api-key": key })),
    );
    const accepted = responses.filter((r) => r.status === 202).length;
    const limited = responses.filter((r) => r.status === 429);
    expect(accepted).toBe(QUOTA);
    expect(limited).toHaveLength(n - QUOTA);
    expect(limited.every((r) => r.body.code === "RATE_LIMITED" && Number(r.headers.get("retry-after")) > 0)).toBe(true);

    const token = (await call(b.base, "POST", "/api/auth/token", undefined, { "x-api-key": key })).body.access_token as string;
    const daily = await call(a.base, "GET", "/api/usage/daily", undefined, { authorization: `Bearer ${token}` });
    const days = (daily.body.data as Array<{ days: Array<{ total_requests: number }> }>)[0]?.days ?? [];
    expect(days.at(-1)).toEqual(expect.objectContaining({ total_requests: QUOTA }));
  });

  it("refuses whole the batches that no longer fit, across both", async () => {
    const [a, b] = gateways as [AppProcess, AppProcess];
    const key = (await call(a.base, "POST", "/api/register", { name: "B", email: `${randomUUID()}@example.com` })).body.api_key as string;
    // Eight batches of 10 race for a quota of 40: exactly four fit.
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call(i % 2 === 0 ? a.base : b.base, "POST", "/api/logs/batch", { hits: Array.from({ length: 10 }, hit) }, { "x-api-key": key }),
      ),
    );
    expect(responses.filter((r) => r.status === 202)).toHaveLength(4);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(4);
  });
});
