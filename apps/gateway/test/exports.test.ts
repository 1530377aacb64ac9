import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertChunks, insertExport } from "./export-fixtures.ts";
import { buildGateway, type GatewayHarness, type TestClient } from "./helper.ts";

const HOUR_MS = 3_600_000;
const STATE_FIELDS = ["created_at", "export_id", "processed", "progress", "status", "total"];

describe("exports: create, follow, cancel", () => {
  let gw: GatewayHarness;
  let admin: string;
  let client: TestClient;
  let token: string;
  beforeAll(async () => {
    gw = await buildGateway();
    admin = await gw.adminToken();
    client = await gw.register();
    token = await gw.tokenFor(client.api_key);
  });
  afterAll(async () => gw.close());

  const as = (bearer: string) => ({ authorization: `Bearer ${bearer}` });
  const range = (hours = 24) => ({ from: new Date(Date.now() - hours * HOUR_MS).toISOString(), to: new Date().toISOString() });
  const create = (bearer: string, payload: object) => gw.inject({ method: "POST", url: "/api/exports", headers: as(bearer), payload });
  const state = (bearer: string, id: string) => gw.inject({ method: "GET", url: `/api/exports/${id}`, headers: as(bearer) });
  const cancel = (bearer: string, id: string) => gw.inject({ method: "POST", url: `/api/exports/${id}/cancel`, headers: as(bearer) });
  const download = (bearer: string, id: string) => gw.inject({ method: "GET", url: `/api/exports/${id}/download`, headers: as(bearer) });

  it("a client's export: 202 queued, its row owned by the client, its job on the export queue", async () => {
    const body = range();
    const response = await create(token, body);
    expect(response.statusCode, response.body).toBe(202);
    const created = response.json();
    expect(created).toEqual({ export_id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: "queued" });
    const row = await gw.db.selectFrom("exports").selectAll().where("export_id", "=", created.export_id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ owner: client.client_id, client_id: client.client_id, status: "queued", processed: 0, total: null });
    expect(row.range_from.toISOString()).toBe(body.from);
    expect(row.range_to.toISOString()).toBe(body.to);
    const job = await gw.app.exportQueue.getJob(created.export_id);
    expect(job?.data).toEqual({ v: 1, export_id: created.export_id });

    const followed = await state(token, created.export_id);
    expect(followed.statusCode, followed.body).toBe(200);
    expect(Object.keys(followed.json()).sort()).toEqual(STATE_FIELDS);
    expect(followed.json()).toMatchObject({ export_id: created.export_id, status: "queued", progress: 0, processed: 0, total: 0 });
    await cancel(token, created.export_id);
  });

  it("a client naming itself, in upper case, is the same as omitting client_id", async () => {
    const response = await create(token, { ...range(), client_id: client.client_id.toUpperCase() });
    expect(response.statusCode, response.body).toBe(202);
    const row = await gw.db
      .selectFrom("exports")
      .select(["owner", "client_id"])
      .where("export_id", "=", response.json().export_id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ owner: client.client_id, client_id: client.client_id });
    await cancel(token, response.json().export_id);
  });

  it("the admin exports one client's hits or everyone's; it owns both", async () => {
    const one = await create(admin, { ...range(), client_id: client.client_id });
    const all = await create(admin, range());
    for (const response of [one, all]) expect(response.statusCode, response.body).toBe(202);
    const rows = await gw.db
      .selectFrom("exports")
      .select(["export_id", "owner", "client_id"])
      .where("export_id", "in", [one.json().export_id, all.json().export_id])
      .execute();
    expect(rows.find((r) => r.export_id === one.json().export_id)).toMatchObject({ owner: "admin", client_id: client.client_id });
    expect(rows.find((r) => r.export_id === all.json().export_id)).toMatchObject({ owner: "admin", client_id: null });
    for (const response of [one, all]) await cancel(admin, response.json().export_id);
  });

  it("progress follows processed / total; download_url once completed", async () => {
    const running = await insertExport(gw.db, { owner: client.client_id, status: "running", processed: 333, total: 1000 });
    expect((await state(token, running)).json()).toMatchObject({ status: "running", progress: 33, processed: 333, total: 1000 });
    expect((await state(token, running)).json()).not.toHaveProperty("download_url");

    const done = await insertExport(gw.db, { owner: client.client_id, status: "completed", processed: 1000 });
    const body = (await state(token, done)).json();
    expect(body).toMatchObject({
      status: "completed",
      progress: 100,
      processed: 1000,
      total: 1000,
      download_url: `/api/exports/${done}/download`,
    });
    expect(Date.parse(body.finished_at)).not.toBeNaN();

    const empty = await insertExport(gw.db, { owner: client.client_id, status: "completed", processed: 0 });
    expect((await state(token, empty)).json()).toMatchObject({ progress: 100, total: 0 });
  });

  it("the admin sees, cancels and downloads any client's export", async () => {
    const id = await insertExport(gw.db, { owner: client.client_id, status: "completed", processed: 1 });
    await insertChunks(gw.db, id, [Buffer.from("a,b,c\r\n")]);
    expect((await state(admin, id)).statusCode).toBe(200);
    expect((await download(admin, id)).statusCode).toBe(200);
    const queued = await insertExport(gw.db, { owner: client.client_id, status: "queued" });
    expect((await cancel(admin, queued)).json()).toMatchObject({ status: "cancelled" });
  });

  it("cancelling a queued export: cancelled with finished_at, and it no longer counts toward the limit", async () => {
    const id = await insertExport(gw.db, { owner: client.client_id, status: "queued" });
    const response = await cancel(token, id);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ export_id: id, status: "cancelled", progress: 0 });
    expect(Date.parse(response.json().finished_at)).not.toBeNaN();
    // Cancelling again answers the same final state.
    expect((await cancel(token, id)).json()).toEqual(response.json());
  });

  it("cancelling a running export removes the chunks written so far", async () => {
    const id = await insertExport(gw.db, { owner: client.client_id, status: "running", processed: 2, total: 10 });
    await insertChunks(gw.db, id, [Buffer.from("1\r\n"), Buffer.from("2\r\n")]);
    expect((await cancel(token, id)).json()).toMatchObject({ status: "cancelled", processed: 2, total: 10, progress: 20 });
    expect(await gw.db.selectFrom("export_chunks").select("seq").where("export_id", "=", id).execute()).toEqual([]);
  });

  it("cancelling a finished export changes nothing: completed stays completed, with its file", async () => {
    const id = await insertExport(gw.db, { owner: client.client_id, status: "completed", processed: 1 });
    await insertChunks(gw.db, id, [Buffer.from("x\r\n")]);
    const before = (await state(token, id)).json();
    const response = await cancel(token, id);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual(before);
    expect((await download(token, id)).body).toContain("x\r\n");
  });

  it("the OpenAPI document has the four routes and their statuses", async () => {
    const doc = (await gw.inject({ method: "GET", url: "/docs/json" })).json();
    expect(Object.keys(doc.paths["/api/exports"].post.responses).sort()).toEqual([
      "202",
      "400",
      "401",
      "403",
      "404",
      "413",
      "415",
      "429",
      "503",
    ]);
    expect(doc.paths["/api/exports/{export_id}"].get.responses).toHaveProperty("200");
    expect(doc.paths["/api/exports/{export_id}/cancel"].post.responses).toHaveProperty("200");
    const downloadDoc = doc.paths["/api/exports/{export_id}/download"].get.responses;
    expect(Object.keys(downloadDoc)).toEqual(expect.arrayContaining(["200", "409", "410"]));
    expect(downloadDoc["200"].content).toHaveProperty("text/csv");
  });
});
