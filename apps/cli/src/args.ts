import { InvalidArgumentError } from "commander";

/** Argument parsers: a bad value is a usage error (exit 2) before any request is sent. */

export const integer =
  (min: number, max: number) =>
  (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return Number(value);
  };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const clientId = (value: string): string => {
  if (!UUID.test(value)) throw new InvalidArgumentError("expected a client id (a UUID)");
  return value;
};

/** A quota: an integer 0..1,000,000,000, or "default" (null: the gateway's RATE_LIMIT_PER_HOUR). */
export const quota = (value: string): number | null => {
  if (value === "default") return null;
  return integer(0, 1_000_000_000)(value);
};
