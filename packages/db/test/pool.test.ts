import { createPool, withDefaultUser } from "@usage/db";
import { createTestEnv, pgQuery, type TestEnv } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * A server that goes away under a connection in use (a replica stopped, a primary restarted,
 * a backend terminated): the query in flight fails, the process lives on. pg emits 'error' on
 * the client, and a client checked out of a pool has no listener of the pool's; an unheard
 * 'error' event throws out of the socket's handler and ends the process (two gateways died
 * so when the fault suite stopped their read replica).
 */
describe("a pool whose server drops a connection in use", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it("fails that connection's query, keeps the process, and answers the next query on a new connection", async () => {
    const pool = createPool(env.config.databaseUrl, { max: 1 });
    try {
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const pid = rows[0]?.pid;
      const ended = new Promise((resolve) => client.once("end", resolve));
      const inFlight = client.query("SELECT pg_sleep(10)").then(
        () => "finished",
        (error: Error) => error.message,
      );
      await pgQuery(withDefaultUser(env.config.databaseUrl), "SELECT pg_terminate_backend($1)", [pid]);
      expect(await inFlight).toMatch(/terminating connection/);
      await ended;
      // Let the 'error' event the dropped socket raises reach (or miss) its listeners before release.
      await new Promise((resolve) => setTimeout(resolve, 50));
      client.release();
      const next = await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      expect(next.rows[0]?.pid).not.toBe(pid);
    } finally {
      await pool.end();
    }
  });
});
