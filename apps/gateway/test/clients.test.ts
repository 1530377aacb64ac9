import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient } from "./helper.ts";

const DEFAULT_QUOTA = 50;
const CLIENT_FIELDS = ["client_id", "created_at", "email", "key_created_at", "name", "rate_limit_per_hour", "revoked_at"];

describe("client management: what the admin and a client can do", () => {
  let gw: GatewayHarness;
  let admin: string;
  beforeAll(async () => {
    gw = await buildGateway({ RATE_LIMIT_PER_HOUR: String(DEFAULT_QUOTA), REGISTER_LIMIT_PER_HOUR: "1000" });
    admin = await gw.adminToken();
  });
  afterAll(async () => gw.close());

  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const list = (query = "") => gw.inject({ method: "GET", url: `/api/clients${query}`, headers: as(admin) });
  const patch = (id: string, payload: object) => gw.inject({ method: "PATCH", url: `/api/clients/${id}`, headers: as(admin), payload });
  const rotate = (id: string, token: string, payload?: object) =>
    gw.inject({ method: "POST", url: `/api/clients/${id}/keys`, headers: as(token), ...(payload ? { payload } : {}) });
  const revoke = (id: string) => gw.inject({ method: "POST", url: `/api/clients/${id}/revoke`, headers: as(admin) });
  const logWith = (apiKey: string, extra: Record<string, unknown> = {}) =>
    gw.inject({ method: "POST", url: "/api/logs", headers: { "x-api-key": apiKey }, payload: hit(extra) });
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  describe("GET /api/clients", () => {
    const prefix = `List-${randomUUID().slice(0, 8)}`;
    const registered: TestClient[] = [];
    beforeAll(async () => {
      for (let i = 0; i < 5; i++) registered.push(await gw.register(`${prefix} ${i}`, `${prefix}.${i}@Example.com`));
    });

    it("lists clients newest first, emails decrypted, never a key", async () => {
      const response = await list(`?q=${encodeURIComponent(prefix)}`);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json();
      expect(Object.keys(body)).toEqual(["data"]);
      expect(body.data.map((c: { name: string }) => c.name)).toEqual([4, 3, 2, 1, 0].map((i) => `${prefix} ${i}`));
      const newest = body.data[0];
      expect(Object.keys(newest).sort()).toEqual(CLIENT_FIELDS);
      expect(newest).toEqual({
        client_id: registered[4]?.client_id,
        name: `${prefix} 4`,
        email: `${prefix}.4@Example.com`,
        created_at: expect.any(String),
        rate_limit_per_hour: null,
        revoked_at: null,
        key_created_at: newest.created_at,
      });
      expect(response.body).not.toContain(registered[4]?.api_key);
    });

    it("pages with an opaque cursor: every client once, next_cursor absent on the last page", async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const response = await list(`?limit=2&q=${encodeURIComponent(prefix)}${cursor ? `&cursor=${cursor}` : ""}`);
        expect(response.statusCode, response.body).toBe(200);
        const body = response.json();
        seen.push(...body.data.map((c: { client_id: string }) => c.client_id));
        cursor = body.next_cursor;
        pages++;
      } while (cursor !== undefined);
      expect(pages).toBe(3);
      expect(seen).toEqual(registered.map((c) => c.client_id).reverse());
    });

    it("pages through everyone without q, the default limit 100", async () => {
      const response = await list();
      expect(response.statusCode, response.body).toBe(200);
      const ids = response.json().data.map((c: { client_id: string }) => c.client_id);
      expect(ids.slice(0, 5)).toEqual(registered.map((c) => c.client_id).reverse());
    });

    it("q matches a name prefix or a whole email, case-insensitively, and nothing else", async () => {
      const names = async (q: string) => (await list(`?q=${encodeURIComponent(q)}`)).json().data.map((c: { name: string }) => c.name);
      expect(await names(`${prefix} 3`.toUpperCase())).toEqual([`${prefix} 3`]);
      expect(await names(`${prefix}.2@example.COM`)).toEqual([`${prefix} 2`]);
      // Neither part of an email nor the middle of a name.
      expect(await names(`${prefix}.2@example`)).toEqual([]);
      expect(await names(prefix.slice(2))).toEqual([]);
      // LIKE's wildcards are plain characters here.
      expect(await names(`${prefix.slice(0, 4)}%`)).toEqual([]);
      expect(await names(`${prefix.slice(0, 4)}_`)).toEqual([]);
    });
  });

  describe("GET /api/clients/{client_id}", () => {
    it("answers the admin and the client itself (in any case of its id) with the same Client", async () => {
      const client = await gw.register("Self", `self-${randomUUID()}@example.com`);
      const token = await gw.tokenFor(client.api_key);
      const byAdmin = await gw.inject({ method: "GET", url: `/api/clients/${client.client_id}`, headers: as(admin) });
      expect(byAdmin.statusCode, byAdmin.body).toBe(200);
      expect(byAdmin.json()).toMatchObject({ client_id: client.client_id, name: "Self", email: client.email, revoked_at: null });
      const bySelf = await gw.inject({ method: "GET", url: `/api/clients/${client.client_id.toUpperCase()}`, headers: as(token) });
      expect(bySelf.statusCode, bySelf.body).toBe(200);
      expect(bySelf.json()).toEqual(byAdmin.json());
    });
  });

  describe("PATCH /api/clients/{client_id}", () => {
    it("renames and sets the quota, which the very next hit obeys; null is the default again", async () => {
      const client = await gw.register();
      expect((await logWith(client.api_key)).headers["x-ratelimit-limit"]).toBe(String(DEFAULT_QUOTA));

      const response = await patch(client.client_id, { name: "Renamed", rate_limit_per_hour: 2 });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toMatchObject({ client_id: client.client_id, name: "Renamed", rate_limit_per_hour: 2, email: client.email });
      const second = await logWith(client.api_key);
      expect(second.statusCode, second.body).toBe(202);
      expect(second.headers["x-ratelimit-limit"]).toBe("2");
      expectError(await logWith(client.api_key), 429, "RATE_LIMITED");

      const reset = await patch(client.client_id, { rate_limit_per_hour: null });
      expect(reset.json()).toMatchObject({ name: "Renamed", rate_limit_per_hour: null });
      const after = await logWith(client.api_key);
      expect(after.statusCode, after.body).toBe(202);
      expect(after.headers["x-ratelimit-limit"]).toBe(String(DEFAULT_QUOTA));
    });

    it("0 blocks every hit with 429, duplicates and batches too, by key or token", async () => {
      const client = await gw.register();
      const token = await gw.tokenFor(client.api_key);
      const eventId = randomUUID();
      expect((await logWith(client.api_key, { event_id: eventId })).statusCode).toBe(202);
      expect((await patch(client.client_id, { rate_limit_per_hour: 0 })).json().rate_limit_per_hour).toBe(0);

      const duplicate = await logWith(client.api_key, { event_id: eventId });
      expectError(duplicate, 429, "RATE_LIMITED");
      expect(duplicate.headers["x-ratelimit-limit"]).toBe("0");
      expect(Number(duplicate.headers["retry-after"])).toBeGreaterThan(0);
      const batch = await gw.inject({ method: "POST", url: "/api/logs/batch", headers: as(token), payload: { hits: [hit()] } });
      expectError(batch, 429, "RATE_LIMITED");
    });
  });

  describe("POST /api/clients/{client_id}/keys", () => {
    it("issues a key that works at once; with no grace the previous one answers 401 right away", async () => {
      const client = await gw.register();
      expect((await logWith(client.api_key)).statusCode).toBe(202); // now cached by digest
      const response = await rotate(client.client_id, admin);
      expect(response.statusCode, response.body).toBe(201);
      const body = response.json();
      expect(Object.keys(body).sort()).toEqual(["api_key", "key_created_at", "previous_key_expires_at"]);
      expect(body.api_key).toMatch(/^uk_[A-Za-z0-9_-]{43}$/);
      expect(body.previous_key_expires_at).toBe(body.key_created_at);

      expect((await logWith(body.api_key)).statusCode).toBe(202);
      expectError(await logWith(client.api_key), 401, "UNAUTHORIZED");
      const exchange = await gw.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": client.api_key } });
      expectError(exchange, 401, "UNAUTHORIZED");
      const self = await gw.inject({ method: "GET", url: `/api/clients/${client.client_id}`, headers: as(admin) });
      expect(self.json().key_created_at).toBe(body.key_created_at);
    });

    it("lets the client rotate its own key with a grace: both keys work until previous_key_expires_at, then only the new one", async () => {
      const client = await gw.register();
      const token = await gw.tokenFor(client.api_key);
      expect((await logWith(client.api_key)).statusCode).toBe(202);
      const response = await rotate(client.client_id, token, { grace_seconds: 2 });
      expect(response.statusCode, response.body).toBe(201);
      const body = response.json();
      expect(Date.parse(body.previous_key_expires_at) - Date.parse(body.key_created_at)).toBe(2000);

      expect((await logWith(client.api_key)).statusCode).toBe(202);
      expect((await logWith(body.api_key)).statusCode).toBe(202);
      // Tokens are bound to the client, not to a key.
      const daily = await gw.inject({ method: "GET", url: "/api/usage/daily", headers: as(token) });
      expect(daily.statusCode, daily.body).toBe(200);

      await pause(Math.max(0, Date.parse(body.previous_key_expires_at) - Date.now()) + 50);
      expectError(await logWith(client.api_key), 401, "UNAUTHORIZED");
      expect((await logWith(body.api_key)).statusCode).toBe(202);
    });

    it("a second rotation ends every older key at its own previous_key_expires_at at the latest", async () => {
      const client = await gw.register();
      const second = (await rotate(client.client_id, admin, { grace_seconds: 3600 })).json();
      expect((await logWith(client.api_key)).statusCode).toBe(202);
      const third = (await rotate(client.client_id, admin, { grace_seconds: 0 })).json();
      expectError(await logWith(client.api_key), 401, "UNAUTHORIZED");
      expectError(await logWith(second.api_key), 401, "UNAUTHORIZED");
      expect((await logWith(third.api_key)).statusCode).toBe(202);
    });
  });

  describe("an id in capitals", () => {
    it("names the same client, and a change made through it takes effect at once", async () => {
      const client = await gw.register();
      expect((await logWith(client.api_key)).statusCode).toBe(202); // cached by this gateway
      const upper = client.client_id.toUpperCase();
      const patched = await patch(upper, { rate_limit_per_hour: 0 });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(patched.json().client_id).toBe(client.client_id);
      expectError(await logWith(client.api_key), 429, "RATE_LIMITED");
      expect((await revoke(upper)).statusCode).toBe(200);
      expectError(await logWith(client.api_key), 401, "UNAUTHORIZED");
    });
  });

  describe("POST /api/clients/{client_id}/revoke", () => {
    it("revokes once (a second call returns the same revoked_at); keys and tokens answer 401; usage stays", async () => {
      const client = await gw.register("Revoked");
      const token = await gw.tokenFor(client.api_key);
      expect((await logWith(client.api_key)).statusCode).toBe(202);
      expect((await gw.inject({ method: "GET", url: "/api/usage/daily", headers: as(token) })).statusCode).toBe(200);

      const first = await revoke(client.client_id);
      expect(first.statusCode, first.body).toBe(200);
      expect(first.json()).toMatchObject({ client_id: client.client_id, name: "Revoked", revoked_at: expect.any(String) });
      const second = await revoke(client.client_id);
      expect(second.statusCode, second.body).toBe(200);
      expect(second.json()).toEqual(first.json());

      expectError(await logWith(client.api_key), 401, "UNAUTHORIZED");
      const byToken = await gw.inject({ method: "POST", url: "/api/logs", headers: as(token), payload: hit() });
      expectError(byToken, 401, "UNAUTHORIZED");
      expectError(await gw.inject({ method: "GET", url: "/api/usage/daily", headers: as(token) }), 401, "UNAUTHORIZED");
      expectError(await gw.inject({ method: "GET", url: `/api/clients/${client.client_id}`, headers: as(token) }), 401, "UNAUTHORIZED");
      expectError(await rotate(client.client_id, token), 401, "UNAUTHORIZED");
      const exchange = await gw.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": client.api_key } });
      expectError(exchange, 401, "UNAUTHORIZED");

      // The admin still sees the client and its counted hit.
      const daily = await gw.inject({ method: "GET", url: "/api/usage/daily?limit=1000", headers: as(admin) });
      const row = daily.json().data.find((r: { client_id: string }) => r.client_id === client.client_id);
      expect(row, daily.body).toMatchObject({ name: "Revoked" });
      expect(row.days.at(-1).total_requests).toBe(1);
      const shown = await gw.inject({ method: "GET", url: `/api/clients/${client.client_id}`, headers: as(admin) });
      expect(shown.json().revoked_at).toBe(first.json().revoked_at);
    });
  });
});
