import { Writable } from "node:stream";
import { REDACT_PATHS } from "@usage/core";
import type { FastifyBaseLogger } from "fastify";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { RequestLogger } from "../src/http/request-logger.ts";

const sinkLogger = (level: string) => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level, base: null, timestamp: false, redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, sink);
  return { logger: logger as FastifyBaseLogger, lines };
};

describe("request logger", () => {
  it("makes no pino child until the request writes a line, and none for lines below the level", () => {
    const { logger, lines } = sinkLogger("warn");
    const child = vi.spyOn(logger, "child");
    const log = new RequestLogger(logger, { reqId: "r-1" }, {});
    expect(log.level).toBe("warn");
    log.info("below the level");
    log.debug("below the level");
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
    log.warn("first");
    log.error("second");
    expect(child).toHaveBeenCalledTimes(1);
  });

  it("writes the lines the eager child would, with the request's bindings and redaction", () => {
    const eager = sinkLogger("info");
    const lazy = sinkLogger("info");
    const payload = { client: { api_key: "secret-key", name: "Acme" } };
    eager.logger.child({ reqId: "r-2" }).warn(payload, "refused %s", "now");
    new RequestLogger(lazy.logger, { reqId: "r-2" }, {}).warn(payload, "refused %s", "now");
    expect(lazy.lines).toEqual(eager.lines);
    expect(lazy.lines[0]).toMatchObject({ reqId: "r-2", msg: "refused now", client: { api_key: "[redacted]", name: "Acme" } });
  });

  it("keeps a route's own level and passes its bindings on to children", () => {
    const { logger, lines } = sinkLogger("info");
    const log = new RequestLogger(logger, { reqId: "r-3" }, { level: "error" });
    expect(log.level).toBe("error");
    log.warn("below the route's level");
    log.child({ part: "stream" }).error("kept");
    log.level = "warn";
    log.warn("now written");
    expect(lines).toEqual([
      expect.objectContaining({ reqId: "r-3", part: "stream", msg: "kept" }),
      expect.objectContaining({ reqId: "r-3", msg: "now written" }),
    ]);
  });
});
