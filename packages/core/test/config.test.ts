import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../src/config.ts";

const KEY = Buffer.alloc(32, 1).toString("base64");
const PROD = { NODE_ENV: "production", JWT_SECRET: "s".repeat(32), ENCRYPTION_KEY: KEY };

const failure = (env: Record<string, string>): string => {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("configuration", () => {
  it("has the contract's defaults", () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: "127.0.0.1",
      databaseUrl: "postgres://127.0.0.1:5432/usage",
      redisUrl: "redis://127.0.0.1:6379",
      adminApiKey: undefined,
      rateLimitPerHour: 1000,
      registerLimitPerHour: 20,
      maxEventAgeDays: 30,
      retentionDays: 90,
      trustProxy: false,
      bodyLimitBytes: 1024 * 1024,
    });
    expect(config.adminIpAllowlist).toEqual([
      { address: "127.0.0.1", prefix: 32, family: "ipv4" },
      { address: "::1", prefix: 128, family: "ipv6" },
    ]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    [{ PORT: "abc" }, /^PORT must be an integer from 0 to 65535 \(got "abc"\)$/],
    [{ RATE_LIMIT_PER_HOUR: "0" }, /^RATE_LIMIT_PER_HOUR must be an integer/],
    [{ DATABASE_URL: "mysql://x" }, /^DATABASE_URL must be a postgres: or postgresql: URL/],
    [{ REDIS_URL: "::" }, /^REDIS_URL must be a URL/],
    [{ ADMIN_IP_ALLOWLIST: "10.0.0.0/33" }, /^ADMIN_IP_ALLOWLIST has an invalid prefix/],
    [{ ADMIN_IP_ALLOWLIST: "nope" }, /^ADMIN_IP_ALLOWLIST has an invalid address/],
    [{ ENCRYPTION_KEY: "c2hvcnQ=" }, /^ENCRYPTION_KEY must be 32 bytes/],
    [{ TRUST_PROXY: "maybe" }, /^TRUST_PROXY has an invalid address/],
    [{ MAX_EVENT_AGE_DAYS: "100", RETENTION_DAYS: "90" }, /MAX_EVENT_AGE_DAYS \(100\) must not exceed RETENTION_DAYS/],
    [{ TLS_CERT_FILE: "/x.pem" }, /TLS_CERT_FILE and TLS_KEY_FILE must be set together/],
  ])("refuses %o with one line naming the setting", (env, message) => {
    const text = failure(env as Record<string, string>);
    expect(text).toMatch(message);
    expect(text).not.toContain("\n");
  });

  it("has no secret defaults in production", () => {
    expect(failure({ NODE_ENV: "production", ENCRYPTION_KEY: KEY })).toBe("JWT_SECRET is required");
    expect(failure({ NODE_ENV: "production", JWT_SECRET: "s".repeat(32) })).toBe("ENCRYPTION_KEY is required");
    expect(parseConfig(PROD).jwtSecret).toBe("s".repeat(32));
  });

  it("keeps a secret out of the message when it is too short", () => {
    const text = failure({ ...PROD, JWT_SECRET: "short-secret" });
    expect(text).toMatch(/^JWT_SECRET must be at least 32 characters/);
  });
});
