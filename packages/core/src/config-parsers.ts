import { BlockList, isIP } from "node:net";

/** A parser turns the raw env string into a value or throws a message naming what is wrong. */
export type Parser<T> = (raw: string) => T;

export class ConfigError extends Error {}

const fail = (what: string): never => {
  throw new ConfigError(what);
};

export const int =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const n = Number(raw);
    return Number.isInteger(n) && n >= min && n <= max ? n : fail(`must be an integer from ${min} to ${max}`);
  };

export const str =
  (minLength = 1): Parser<string> =>
  (raw) =>
    raw.length >= minLength ? raw : fail(`must be at least ${minLength} characters`);

export const oneOf =
  <const T extends string>(...values: T[]): Parser<T> =>
  (raw) =>
    (values as string[]).includes(raw) ? (raw as T) : fail(`must be one of ${values.join(", ")}`);

export const url =
  (...protocols: string[]): Parser<string> =>
  (raw) => {
    let parsed: URL | undefined;
    try {
      parsed = new URL(raw);
    } catch {
      return fail("must be a URL");
    }
    return protocols.includes(parsed.protocol) ? raw : fail(`must be a ${protocols.join(" or ")} URL`);
  };

export interface HostPort {
  host: string;
  port: number;
}

/** Comma-separated `host:port` (an IPv6 host in brackets: `[::1]:7000`). */
export const hostPorts: Parser<HostPort[]> = (raw) => {
  const parts = raw
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (parts.length === 0) return fail("must name at least one host:port");
  return parts.map((part) => {
    const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(part);
    const port = Number(match?.[3]);
    const host = match?.[1] ?? match?.[2];
    if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return fail(`has "${part}", which is not host:port`);
    return { host, port };
  });
};

export const bool: Parser<boolean> = (raw) => {
  if (["1", "true", "yes", "on"].includes(raw.toLowerCase())) return true;
  if (["0", "false", "no", "off", ""].includes(raw.toLowerCase())) return false;
  return fail("must be true or false");
};

export const base64Key32: Parser<Buffer> = (raw) => {
  const key = Buffer.from(raw, "base64");
  return key.length === 32 ? key : fail("must be 32 bytes encoded as base64 (openssl rand -base64 32)");
};

export interface Cidr {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** Comma-separated CIDRs (a bare address means a single host). */
export const cidrList: Parser<Cidr[]> = (raw) =>
  raw
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const [address = "", prefixText] = part.split("/");
      const version = isIP(address);
      if (version === 0) return fail(`has an invalid address "${address}"`);
      const max = version === 4 ? 32 : 128;
      const prefix = prefixText === undefined ? max : Number(prefixText);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return fail(`has an invalid prefix in "${part}"`);
      const family = version === 4 ? "ipv4" : "ipv6";
      // Let BlockList reject what isIP accepted but a subnet cannot hold.
      new BlockList().addSubnet(address, prefix, family);
      return { address, prefix, family };
    });

/**
 * TRUST_PROXY: true/false, a number of proxy hops to trust, or the proxies' addresses or
 * CIDRs (comma-separated). Only the last two keep a client from choosing its own address
 * with x-forwarded-for when the gateway can also be reached directly.
 */
export const trustProxy: Parser<boolean | number | string> = (raw) => {
  if (/^\d+$/.test(raw)) return int(1, 100)(raw);
  try {
    return bool(raw);
  } catch {
    cidrList(raw);
    return raw;
  }
};
