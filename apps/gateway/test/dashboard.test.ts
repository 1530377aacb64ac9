import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_CSP } from "../src/dashboard/headers.ts";
import { buildGateway, expectError, type GatewayHarness } from "./helper.ts";
import { exchange, expectRawError, onlyResponse } from "./raw-http.ts";

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; " +
  "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const INDEX = '<!doctype html><title>Usage</title><script type="module" src="/dashboard/assets/app-abc123.js"></script>';
const SCRIPT = "console.log('dashboard');";
/** Beside the build directory, where a path that escapes it would land. */
const OUTSIDE = "OUTSIDE-THE-BUILD-0123456789";

/** A fake Vite build (`base: "/dashboard/"`) in a temp directory, with files that must never be served around it. */
const fakeBuild = async (): Promise<{ root: string; dist: string }> => {
  const root = await mkdtemp(join(tmpdir(), "usage-dashboard-"));
  const dist = join(root, "dist");
  await mkdir(join(dist, "assets"), { recursive: true });
  await writeFile(join(dist, "index.html"), INDEX);
  await writeFile(join(dist, "assets", "app-abc123.js"), SCRIPT);
  await writeFile(join(dist, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
  await writeFile(join(dist, ".env"), `SECRET=${OUTSIDE}`);
  await writeFile(join(dist, "assets", ".hidden.js"), OUTSIDE);
  await writeFile(join(root, "package.json"), OUTSIDE);
  return { root, dist };
};

describe("GET /dashboard: the built page", () => {
  let gw: GatewayHarness;
  let root: string;
  let port: number;
  beforeAll(async () => {
    const build = await fakeBuild();
    root = build.root;
    gw = await buildGateway({ DASHBOARD_DIR: build.dist });
    await gw.app.listen({ port: 0, host: "127.0.0.1" });
    port = (gw.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await gw.close();
    await rm(root, { recursive: true, force: true });
  });

  const get = (url: string, method: "GET" | "HEAD" | "POST" = "GET") => gw.inject({ method, url });

  it("has the policy the brief gives, word for word", () => {
    expect(DASHBOARD_CSP).toBe(CSP);
  });

  it.each([["/dashboard"], ["/dashboard/"]])(
    "%s answers index.html, revalidated, with the page's CSP and helmet's headers",
    async (url) => {
      const response = await get(url);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.body).toBe(INDEX);
      expect(response.headers["content-type"]).toMatch(/^text\/html/);
      expect(response.headers["cache-control"]).toBe("no-cache");
      expect(response.headers["content-security-policy"]).toBe(CSP);
      expect(response.headers["x-content-type-options"]).toBe("nosniff");
      expect(response.headers["x-frame-options"]).toBeDefined();
      expect(response.headers.etag).toBeDefined();
    },
  );

  it("serves hashed assets for a year, immutable; other files at the root revalidated", async () => {
    const script = await get("/dashboard/assets/app-abc123.js");
    expect(script.statusCode, script.body).toBe(200);
    expect(script.body).toBe(SCRIPT);
    expect(script.headers["content-type"]).toMatch(/javascript/);
    expect(script.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(script.headers["content-security-policy"]).toBe(CSP);
    const icon = await get("/dashboard/favicon.svg");
    expect(icon.statusCode, icon.body).toBe(200);
    expect(icon.headers["content-type"]).toMatch(/^image\/svg\+xml/);
    expect(icon.headers["cache-control"]).toBe("no-cache");
    expect(icon.headers["content-security-policy"]).toBe(CSP);
  });

  it("answers HEAD with the headers and no body", async () => {
    for (const url of ["/dashboard", "/dashboard/assets/app-abc123.js"]) {
      const response = await get(url, "HEAD");
      expect(response.statusCode, url).toBe(200);
      expect(response.body).toBe("");
      expect(response.headers["content-security-policy"]).toBe(CSP);
    }
  });

  it.each([
    ["an unknown asset", "/dashboard/assets/app-nope.js"],
    ["an unknown file", "/dashboard/nope.html"],
    ["a directory (no listing)", "/dashboard/assets/"],
    ["a directory without its slash", "/dashboard/assets"],
    ["a dotfile", "/dashboard/.env"],
    ["a dotfile under assets", "/dashboard/assets/.hidden.js"],
  ])("%s is 404 NOT_FOUND in the contract's shape, with the CSP", async (_what, url) => {
    const response = await get(url);
    expectError(response, 404, "NOT_FOUND");
    expect(response.headers["content-security-policy"]).toBe(CSP);
    expect(response.body).not.toContain(OUTSIDE);
  });

  it("keeps the CSP off the API's answers", async () => {
    expect((await get("/health")).headers["content-security-policy"]).toBeUndefined();
  });

  it.each([
    ["/dashboard/../package.json"],
    ["/dashboard/%2e%2e/package.json"],
    ["/dashboard/%2E%2E/package.json"],
    ["/dashboard/%2e%2e%2fpackage.json"],
    ["/dashboard/assets/..%2f..%2fpackage.json"],
    ["/dashboard/assets/../../package.json"],
    ["/dashboard/..%5cpackage.json"],
    ["/dashboard//package.json"],
    ["/dashboard/./.env"],
  ])("%s does not leave the build directory: 404 (raw bytes, as sent)", async (path) => {
    const response = onlyResponse(await exchange(port, [`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]));
    expect(response.body).not.toContain(OUTSIDE);
    expectRawError(response, 404, "NOT_FOUND");
  });

  it("needs no credentials and ignores a token", async () => {
    const response = await gw.inject({ method: "GET", url: "/dashboard", headers: { authorization: "Bearer x.y.z" } });
    expect(response.statusCode).toBe(200);
  });
});

describe("GET /dashboard before the page is built", () => {
  let gw: GatewayHarness;
  let root: string;
  let dist: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "usage-dashboard-"));
    dist = join(root, "dist");
    gw = await buildGateway({ DASHBOARD_DIR: dist });
  });
  afterAll(async () => {
    await gw.close();
    await rm(root, { recursive: true, force: true });
  });

  const expectNotBuilt = async (url: string) => {
    const response = await gw.inject({ method: "GET", url });
    expectError(response, 503, "UNAVAILABLE");
    expect(response.json().message).toContain("not built");
    expect(response.json().message).toContain("pnpm --filter @usage/dashboard build");
    expect(response.headers["content-security-policy"]).toBe(CSP);
  };

  it("starts the gateway anyway, and answers 503 UNAVAILABLE saying how to build it", async () => {
    expect((await gw.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
    await expectNotBuilt("/dashboard");
    await expectNotBuilt("/dashboard/");
    await expectNotBuilt("/dashboard/assets/app-abc123.js");
  });

  it("answers 503 while the directory exists without index.html, and serves the page once it is there", async () => {
    await mkdir(join(dist, "assets"), { recursive: true });
    await expectNotBuilt("/dashboard");
    await writeFile(join(dist, "index.html"), INDEX);
    const response = await gw.inject({ method: "GET", url: "/dashboard" });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.body).toBe(INDEX);
  });
});
