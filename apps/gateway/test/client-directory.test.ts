import { randomBytes, randomUUID } from "node:crypto";
import { apiKeyDigest, newApiKey } from "@usage/core";
import { insertClient, rotateClientKey } from "@usage/db";
import { createTestEnv, silentLogger, type TestEnv } from "@usage/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientDirectory, createClientDirectory } from "../src/auth/client-directory.ts";
import { createReadDb } from "../src/infra/read-db.ts";

/** The in-process cache of who a key or id belongs to, on a real Postgres, without any pub/sub. */
describe("client directory", () => {
  let env: TestEnv;
  let directory: ClientDirectory;
  beforeAll(async () => {
    env = await createTestEnv();
    // On the primary alone: these tests change clients behind the directory's back, with no
    // change message to fence a replica (read-replica.test.ts covers the replica).
    const url = env.config.databaseUrl;
    directory = createClientDirectory(createReadDb({ primary: env.db, primaryUrl: url, readUrl: url, log: silentLogger() }));
  });
  afterAll(async () => env?.cleanup());

  const client = async () => {
    const apiKey = newApiKey();
    const clientId = randomUUID();
    await insertClient(
      env.db,
      { client_id: clientId, name: "D", email_ciphertext: randomBytes(40), email_digest: randomBytes(32) },
      apiKeyDigest(apiKey),
    );
    return { clientId, apiKey };
  };
  const rotate = async (clientId: string, graceSeconds: number) => {
    const apiKey = newApiKey();
    const rotation = await rotateClientKey(env.db, clientId, apiKeyDigest(apiKey), graceSeconds);
    if (rotation === undefined || rotation === "revoked") throw new Error("rotation failed");
    return { apiKey, expiresAt: rotation.previous_key_expires_at.getTime() };
  };

  it("answers a cached key synchronously (no promise on the hot path)", async () => {
    const { clientId, apiKey } = await client();
    const first = directory.byApiKey(apiKey);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toMatchObject({ client_id: clientId });
    const cached = directory.byApiKey(apiKey);
    expect(cached).not.toBeInstanceOf(Promise);
    expect(cached).toMatchObject({ client_id: clientId, revoked_at: null });
  });

  it("stops a cached previous key at its expiry, with no message and no re-check", async () => {
    const { clientId, apiKey: previous } = await client();
    const { apiKey: current, expiresAt } = await rotate(clientId, 1);
    expect(await directory.byApiKey(previous)).toMatchObject({ client_id: clientId });
    expect(directory.byApiKey(previous)).toMatchObject({ client_id: clientId });
    expect(await directory.byApiKey(current)).toMatchObject({ client_id: clientId });

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 20));
    expect(await directory.byApiKey(previous)).toBeUndefined();
    expect(directory.byApiKey(current)).toMatchObject({ client_id: clientId });
  });

  it("forgets a client's identity and every one of its cached keys", async () => {
    const { clientId, apiKey: previous } = await client();
    const { apiKey: current } = await rotate(clientId, 3600);
    for (const lookup of [() => directory.byApiKey(previous), () => directory.byApiKey(current), () => directory.byId(clientId)]) {
      await lookup();
      expect(lookup()).not.toBeInstanceOf(Promise);
    }
    directory.forget([clientId]);
    expect(directory.byApiKey(previous)).toBeInstanceOf(Promise);
    expect(directory.byApiKey(current)).toBeInstanceOf(Promise);
    expect(directory.byId(clientId)).toBeInstanceOf(Promise);
  });

  it("does not cache what a lookup read if the client was forgotten while it ran", async () => {
    const { clientId, apiKey } = await client();
    const running = directory.byApiKey(apiKey);
    expect(running).toBeInstanceOf(Promise);
    directory.forget([clientId]);
    expect(await running).toMatchObject({ client_id: clientId });
    expect(directory.byApiKey(apiKey)).toBeInstanceOf(Promise);
  });
});
