import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactQuerySecrets } from "../src/logger.ts";

/** A logger of the one factory, writing its lines to an array. */
const capture = (level = "debug") => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { log: createLogger("test", level, sink), lines };
};

describe("credentials in query strings never reach a log", () => {
  it.each([
    ["/api/usage/stream?token=eyJ.abc.def", "/api/usage/stream?token=[redacted]"],
    ["/api/usage/stream?x=1&token=SECRET&y=2", "/api/usage/stream?x=1&token=[redacted]&y=2"],
    ["/admin/queues?TOKEN=SECRET", "/admin/queues?TOKEN=[redacted]"],
    ["/api/usage/stream?%74oken=SECRET", "/api/usage/stream?%74oken=[redacted]"],
    ["/x?access_token=SECRET&api_key=SECRET", "/x?access_token=[redacted]&api_key=[redacted]"],
    ["/x?a=b?token=SECRET", "/x?a=b?token=[redacted]"],
    ["/x?token=", "/x?token=[redacted]"],
    ["/x?tokens=kept&mytoken=kept", "/x?tokens=kept&mytoken=kept"],
    ["/health", "/health"],
    ["'/api/%zz?token=SECRET' is not a valid url component", "'/api/%zz?token=[redacted]' is not a valid url component"],
  ])("%s", (text, expected) => {
    expect(redactQuerySecrets(text)).toBe(expected);
  });

  it("blanks the token in a logged request's URL and in a logged error's message and stack", () => {
    const { log, lines } = capture();
    log.debug({ req: { method: "GET", url: "/api/usage/stream?token=SECRET", headers: { host: "h" } } }, "incoming request");
    log.error({ err: new URIError("'/api/%zz?token=SECRET' is not a valid url component") }, "failed");
    expect(lines).toHaveLength(2);
    expect(lines.join("\n")).not.toContain("SECRET");
    expect(JSON.parse(lines[0] as string).req).toEqual({ method: "GET", url: "/api/usage/stream?token=[redacted]", host: "h" });
    expect(JSON.parse(lines[1] as string).err.message).toBe("'/api/%zz?token=[redacted]' is not a valid url component");
  });

  it("keeps redacting the usual paths", () => {
    const { log, lines } = capture();
    log.warn({ client: { api_key: "uk_secret", email: "a@b.io" }, token: "jwt" }, "refused");
    expect(lines.join("\n")).not.toMatch(/uk_secret|a@b\.io|jwt/);
  });
});
