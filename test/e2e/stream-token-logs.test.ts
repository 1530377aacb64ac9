import { ADMIN_KEY, type AppProcess, call, createTestEnv, eventually, spawnGateway, type TestEnv } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

interface LogLine {
  msg?: string;
  req?: { url?: string };
  res?: { statusCode?: number };
}

/** Opens a stream and resolves with how it ended: the first message (open and served) or the close code. */
const openStream = (url: string): Promise<"message" | number> =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once("message", () => {
      socket.close();
      resolve("message");
    });
    socket.once("close", (code) => resolve(code));
    socket.once("error", reject);
  });

/**
 * The stream takes its token in the query string, so a logged URL could carry it. A real
 * gateway process at the most verbose level, its stdout and stderr captured whole.
 */
describe("the stream's ?token= never reaches a log", () => {
  let env: TestEnv;
  let gateway: AppProcess;
  beforeAll(async () => {
    env = await createTestEnv({ LOG_LEVEL: "trace" });
    gateway = await spawnGateway(env.env, { capture: true });
  });
  afterAll(async () => {
    gateway?.child.kill("SIGTERM");
    await gateway?.exited;
    await env?.cleanup();
  });

  const lines = (): LogLine[] =>
    gateway
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as LogLine);
  const linesFor = (url: string): LogLine[] => lines().filter((line) => line.req?.url === url);

  it("logs each request's URL with the token blanked, and neither token anywhere", async () => {
    const token = (await call(gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": ADMIN_KEY })).body.access_token as string;
    expect(token).toMatch(/^ey/);
    const badToken = "BAD-TOKEN-SECRET-0123456789";
    const queryToken = "QUERY-TOKEN-SECRET-0123456789";
    const ws = gateway.base.replace("http://", "ws://");

    expect(await openStream(`${ws}/api/usage/stream?token=${token}`)).toBe("message");
    expect(await openStream(`${ws}/api/usage/stream?token=${badToken}`)).toBe(4401);
    // The name percent-encoded is still `token` to the query parser.
    expect(await openStream(`${ws}/api/usage/stream?%74oken=${badToken}`)).toBe(4401);
    // Errors with a token in the URL: an unknown query parameter (400), an unknown route (404), a bad URL (400).
    const daily = await call(gateway.base, "GET", `/api/usage/daily?token=${queryToken}`, undefined, { authorization: `Bearer ${token}` });
    expect(daily.status).toBe(400);
    expect((await call(gateway.base, "GET", `/nope?token=${queryToken}`)).status).toBe(404);
    expect((await fetch(`${gateway.base}/api/%zz?token=${queryToken}`)).status).toBe(400);

    // The log did capture these requests (so this test can fail), with the token blanked.
    // The lines are written asynchronously, the last request's last: wait for it, and for /nope's.
    await eventually(async () =>
      linesFor("/nope?token=[redacted]").some((l) => l.res?.statusCode === 404) && linesFor("/api/%zz?token=[redacted]").length > 0
        ? true
        : undefined,
    );
    expect(linesFor("/api/usage/stream?token=[redacted]").length).toBeGreaterThanOrEqual(3);
    expect(linesFor("/api/usage/stream?%74oken=[redacted]").map((l) => l.msg)).toContain("stream refused: missing or bad token");
    expect(linesFor("/api/usage/daily?token=[redacted]").map((l) => l.res?.statusCode)).toContain(400);
    expect(linesFor("/api/%zz?token=[redacted]").length).toBeGreaterThanOrEqual(1);

    const output = gateway.output();
    for (const secret of [token, token.split(".")[2] as string, badToken, queryToken]) expect(output).not.toContain(secret);
  });
});
