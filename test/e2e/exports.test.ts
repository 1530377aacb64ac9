import { randomUUID } from "node:crypto";
import {
  ADMIN_KEY,
  type AppProcess,
  call,
  createTestEnv,
  eventually,
  expectedRows,
  HOSTILE,
  parseCsv,
  spawnGateway,
  spawnWorker,
  stopApps,
  type TestEnv,
} from "@usage/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HEADER = ["id", "client_id", "timestamp", "ip", "endpoint", "method", "status"];

/** An export as a user makes one: hits in through the API, the job in a real worker, the file out through the API. */
describe("exports end to end", () => {
  let env: TestEnv;
  let gateway: AppProcess;
  let worker: Omit<AppProcess, "base">;
  const from = new Date(Date.now() - 3 * 3_600_000).toISOString();
  const to = new Date(Date.now() + 60_000).toISOString();

  const token = async (key: string): Promise<string> => {
    const answer = await call(gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": key });
    expect(answer.status).toBe(200);
    return answer.body.access_token as string;
  };
  const register = async (name: string) => {
    const answer = await call(gateway.base, "POST", "/api/register", { name, email: `${randomUUID()}@example.com` });
    expect(answer.status).toBe(201);
    return { id: answer.body.client_id as string, token: await token(answer.body.api_key as string), key: answer.body.api_key as string };
  };
  /** `count` hits in batches of 1,000, hostile endpoints among them, over the last two hours. */
  const sendHits = async (key: string, count: number): Promise<void> => {
    for (let start = 0; start < count; start += 1_000) {
      const hits = Array.from({ length: Math.min(1_000, count - start) }, (_, j) => {
        const i = start + j;
        return {
          ip: i % 2 === 0 ? "203.0.113.9" : "2001:db8::1",
          endpoint: i % 4 === 0 ? `/${HOSTILE[i % HOSTILE.length]}`.slice(0, 2048) : `/v1/items/${i}`,
          timestamp: new Date(Date.now() - ((i * 7_919) % 7_200_000)).toISOString(),
          ...(i % 3 === 0 ? {} : { method: "GET", status: 200 + (i % 5) }),
        };
      });
      const answer = await call(gateway.base, "POST", "/api/logs/batch", { hits }, { "x-api-key": key });
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    }
  };
  const finished = (bearer: string, exportId: string) =>
    eventually(
      async () => {
        const state = await call(gateway.base, "GET", `/api/exports/${exportId}`, undefined, { authorization: `Bearer ${bearer}` });
        return state.body.status === "completed" ? state.body : undefined;
      },
      30_000,
      "the export completed",
    );
  const download = async (bearer: string, exportId: string) => {
    const response = await fetch(`${gateway.base}/api/exports/${exportId}/download`, { headers: { authorization: `Bearer ${bearer}` } });
    return { response, text: await response.text() };
  };

  beforeAll(async () => {
    env = await createTestEnv({ LOG_LEVEL: "warn", RATE_LIMIT_PER_HOUR: "100000" });
    gateway = await spawnGateway(env.env);
    worker = spawnWorker(env.env);
  });
  afterAll(async () => {
    await stopApps(gateway, worker);
    await env?.cleanup();
  });

  it("gives a client exactly its stored hits, hostile endpoints verbatim; another client sees nothing of it; the admin gets every client", async () => {
    const a = await register("Exporter A");
    const b = await register("Exporter B");
    await sendHits(a.key, 2_500);
    await sendHits(b.key, 500);
    await eventually(
      async () => {
        const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM hits`.execute(env.db);
        return rows[0]?.n === 3_000 ? true : undefined;
      },
      20_000,
      "the hits stored",
    );

    const created = await call(gateway.base, "POST", "/api/exports", { from, to }, { authorization: `Bearer ${a.token}` });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(created.body.status).toBe("queued");
    const exportId = created.body.export_id as string;
    const state = await finished(a.token, exportId);
    expect(state).toMatchObject({ progress: 100, processed: 2_500, total: 2_500, download_url: `/api/exports/${exportId}/download` });

    const { response, text } = await download(a.token, exportId);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="export-${exportId}.csv"`);
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual(HEADER);
    expect(rows).toHaveLength(2_500);
    expect(rows).toEqual(await expectedRows(env.db, from, to, a.id));

    // Another client: as if it did not exist.
    for (const path of [`/api/exports/${exportId}`, `/api/exports/${exportId}/download`])
      expect((await call(gateway.base, "GET", path, undefined, { authorization: `Bearer ${b.token}` })).status).toBe(404);
    expect(
      (await call(gateway.base, "POST", "/api/exports", { from, to, client_id: a.id }, { authorization: `Bearer ${b.token}` })).status,
    ).toBe(403);

    const admin = await token(ADMIN_KEY);
    const all = await call(gateway.base, "POST", "/api/exports", { from, to }, { authorization: `Bearer ${admin}` });
    expect(all.status).toBe(202);
    await finished(admin, all.body.export_id as string);
    const everyone = parseCsv((await download(admin, all.body.export_id as string)).text);
    expect(everyone.slice(1)).toEqual(await expectedRows(env.db, from, to));
    expect(everyone).toHaveLength(3_001);
  });
});
