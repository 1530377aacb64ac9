import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { REDACT_PATHS } from "@usage/core";
import { createTestEnv } from "@usage/testkit";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";
import { hit, uniqueEmail } from "./helper.ts";

describe("transport and logs", () => {
  it("serves HTTPS with HSTS when TLS_CERT_FILE and TLS_KEY_FILE are set", async () => {
    const dir = mkdtempSync(join(tmpdir(), "usage-tls-"));
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
      { stdio: "ignore" },
    );
    const env = await createTestEnv({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
    const app = await buildApp(env.config, { logger: pino({ level: "silent" }) });
    try {
      await app.listen({ port: 0, host: "127.0.0.1" });
      const port = (app.server.address() as { port: number }).port;
      const response = await new Promise<{ status: number; hsts: unknown; body: string }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path: "/health", rejectUnauthorized: false }, (res) => {
          let body = "";
          res.on("data", (chunk) => (body += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, hsts: res.headers["strict-transport-security"], body }));
        });
        req.on("error", reject);
        req.end();
      });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body)).toEqual({ status: "ok" });
      expect(response.hsts).toBeDefined();
    } finally {
      await app.close();
      await env.cleanup();
    }
  });

  it("writes no API key, email or token to the logs, even at trace level", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const env = await createTestEnv();
    const app = await buildApp(env.config, {
      logger: pino({ level: "trace", redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, sink),
    });
    try {
      const email = uniqueEmail();
      const registered = (await app.inject({ method: "POST", url: "/api/register", payload: { name: "Logged", email } })).json();
      const token = (await app.inject({ method: "POST", url: "/api/auth/token", headers: { "x-api-key": registered.api_key } })).json()
        .access_token;
      await app.inject({ method: "POST", url: "/api/logs", payload: { api_key: registered.api_key, ...hit() } });
      await app.inject({ method: "POST", url: "/api/logs", headers: { authorization: `Bearer ${token}` }, payload: { ip: "x" } });
      await app.inject({ method: "GET", url: "/api/usage/daily", headers: { authorization: `Bearer ${token}` } });
      const text = lines.join("");
      expect(text).not.toContain(registered.api_key);
      expect(text).not.toContain(email);
      expect(text).not.toContain(token);
    } finally {
      await app.close();
      await env.cleanup();
    }
  });
});
