import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertChunks, insertExport } from "./export-fixtures.ts";
import { buildGateway, expectError, type GatewayHarness, type TestClient } from "./helper.ts";

const CSV_HEADER = "id,client_id,timestamp,ip,endpoint,method,status\r\n";

describe("exports: the download, and who may reach an export", () => {
  let gw: GatewayHarness;
  let client: TestClient;
  let token: string;
  let other: TestClient;
  let otherToken: string;
  beforeAll(async () => {
    gw = await buildGateway();
    client = await gw.register();
    token = await gw.tokenFor(client.api_key);
    other = await gw.register();
    otherToken = await gw.tokenFor(other.api_key);
  });
  afterAll(async () => gw.close());

  const call = (method: "GET" | "POST", url: string, bearer: string) =>
    gw.inject({ method, url, headers: { authorization: `Bearer ${bearer}` } });
  const download = (bearer: string, id: string) => call("GET", `/api/exports/${id}/download`, bearer);

  it("downloads a completed export: the header row, then the chunks in order, as an attachment", async () => {
    const chunks = ["r1,a\r\n", 'r2,"quoted, ""field"""\r\n', "r3,c\r\nr4,d\r\n"].map((text) => Buffer.from(text));
    const id = await insertExport(gw.db, { owner: client.client_id, status: "completed", processed: 4 });
    await insertChunks(gw.db, id, chunks);
    const response = await download(token, id);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(response.headers["content-disposition"]).toBe(`attachment; filename="export-${id}.csv"`);
    expect(response.headers["cache-control"]).toBe("private, no-store");
    expect(response.rawPayload.equals(Buffer.concat([Buffer.from(CSV_HEADER), ...chunks]))).toBe(true);
  });

  it("a completed export without rows downloads as the header row alone", async () => {
    const id = await insertExport(gw.db, { owner: client.client_id, status: "completed", processed: 0 });
    const response = await download(token, id);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.body).toBe(CSV_HEADER);
  });

  it.each(["queued", "running", "failed", "cancelled"] as const)("409 CONFLICT while %s", async (status) => {
    const id = await insertExport(gw.db, { owner: client.client_id, status });
    expectError(await download(token, id), 409, "CONFLICT");
  });

  it("410 GONE once expired: no download_url any more", async () => {
    const id = await insertExport(gw.db, { owner: client.client_id, status: "completed", processed: 1, expiresInSeconds: -1 });
    await insertChunks(gw.db, id, [Buffer.from("old\r\n")]);
    expectError(await download(token, id), 410, "GONE");
    const state = (await call("GET", `/api/exports/${id}`, token)).json();
    expect(state).toMatchObject({ status: "completed", progress: 100 });
    expect(state).not.toHaveProperty("download_url");
  });

  it("410 GONE when the file's chunks were swept before expires_at", async () => {
    const id = await insertExport(gw.db, { owner: client.client_id, status: "completed", processed: 5 });
    expectError(await download(token, id), 410, "GONE");
  });

  describe("another caller's export is 404, like an unknown one", () => {
    let theirs: string;
    let admins: string;
    beforeAll(async () => {
      theirs = await insertExport(gw.db, { owner: other.client_id, status: "completed", processed: 1 });
      await insertChunks(gw.db, theirs, [Buffer.from("secret\r\n")]);
      admins = await insertExport(gw.db, { owner: "admin", clientId: client.client_id, status: "completed", processed: 0 });
    });

    it.each([
      ["GET", ""],
      ["POST", "/cancel"],
      ["GET", "/download"],
    ] as const)("%s %s", async (method, suffix) => {
      expectError(await call(method, `/api/exports/${theirs}${suffix}`, token), 404, "NOT_FOUND");
      // The admin's export of this client's hits is the admin's, not the client's.
      expectError(await call(method, `/api/exports/${admins}${suffix}`, token), 404, "NOT_FOUND");
      expectError(await call(method, `/api/exports/${randomUUID()}${suffix}`, token), 404, "NOT_FOUND");
      expectError(await call(method, `/api/exports/not-a-uuid${suffix}`, token), 400, "VALIDATION_ERROR");
      // Nothing was changed by the refused cancel.
      expect((await call("GET", `/api/exports/${theirs}`, otherToken)).json()).toMatchObject({ status: "completed" });
    });
  });
});
