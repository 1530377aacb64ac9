import { createHash } from "node:crypto";
import { type IncomingMessage, request } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CSV_HEADER } from "../src/exports/csv-download.ts";
import { expectedChunk, generateChunks, insertExport } from "./export-fixtures.ts";
import { buildGateway, type GatewayHarness } from "./helper.ts";

const CHUNKS = 200;
const CHUNK_BYTES = 256 * 1024;
const FILE_BYTES = CSV_HEADER.length + CHUNKS * CHUNK_BYTES;
/** What the process may grow by while it serves a 50 MB file: far less than the file. */
const MAX_RSS_GROWTH = 32 * 1024 * 1024;

/**
 * Every chunk read from Postgres leaves garbage behind (the hex text of its bytea, the parsed
 * copy): more than the file in total, which V8 collects when it likes (measured: RSS up by
 * 70 to 100 MiB without forced collections, about 16 MiB with them). Collecting at each
 * sample leaves what is really held; a gateway that buffered the file grew by 135 MiB here.
 */
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as (options?: { type: "minor" | "major" }) => void;
const held = (type: "minor" | "major"): number => {
  gc({ type });
  return process.memoryUsage.rss();
};

const get = (url: string, token: string): Promise<IncomingMessage> =>
  new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` } }, resolve);
    req.on("error", reject);
    req.end();
  });

/**
 * The gateway and the reader share this process, so its RSS bounds what the gateway holds:
 * if the download ignored backpressure, the file would pile up in memory while the reader
 * dawdles. The file is made by Postgres, so the test itself holds none of it.
 */
describe("a 50 MB export downloaded over HTTP by a slow reader", () => {
  let gw: GatewayHarness;
  let token: string;
  let exportId: string;
  let base: string;
  beforeAll(async () => {
    gw = await buildGateway();
    const client = await gw.register();
    token = await gw.tokenFor(client.api_key);
    exportId = await insertExport(gw.db, { owner: client.client_id, status: "completed", processed: CHUNKS });
    await generateChunks(gw.db, exportId, CHUNKS, CHUNK_BYTES);
    await gw.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => gw?.close());

  it("arrives whole and in order while the process grows by less than 32 MB", async () => {
    const before = held("major");
    const response = await get(`${base}/api/exports/${exportId}/download`, token);
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(response.headers["transfer-encoding"]).toBe("chunked");

    const received = createHash("sha256");
    let bytes = 0;
    let peak = before;
    let sincePause = 0;
    let pauses = 0;
    for await (const piece of response as AsyncIterable<Buffer>) {
      received.update(piece);
      bytes += piece.length;
      sincePause += piece.length;
      // A pause every 512 KiB: slower than the gateway reads Postgres, so only backpressure holds it back.
      if (sincePause >= 512 * 1024) {
        sincePause = 0;
        peak = Math.max(peak, held(++pauses % 4 === 0 ? "major" : "minor"));
        await sleep(10);
      }
    }

    expect(bytes).toBe(FILE_BYTES);
    const expected = createHash("sha256").update(CSV_HEADER);
    for (let seq = 0; seq < CHUNKS; seq++) expected.update(expectedChunk(seq, CHUNK_BYTES));
    expect(received.digest("hex")).toBe(expected.digest("hex"));
    expect(peak - before, `RSS grew by ${((peak - before) / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(MAX_RSS_GROWTH);
  }, 15_000);
});
