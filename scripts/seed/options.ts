import { parseArgs } from "node:util";

/** What `pnpm seed` was asked to do. */
export interface SeedOptions {
  /** The database to fill, on the server DATABASE_URL names; created if missing. Never implied. */
  database: string;
  /** Prefix of the live Redis counters it raises: the database's name unless given. */
  redisPrefix: string;
  rows: number;
  clients: number;
  days: number;
  /** Rows per INSERT statement (one transaction each). */
  chunk: number;
}

/** A bad command line: the caller prints the message as one line and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export const USAGE =
  "usage: pnpm seed --database NAME --rows N [--redis-prefix P=NAME] [--clients K=10000] [--days D=30] [--chunk C=1000000]   (counts: 50000000, 50_000_000 or 50M)";

/** A name that needs no quoting anywhere (psql, URLs, Redis keys); not a maintenance database. */
const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const RESERVED = new Set(["postgres", "template0", "template1"]);

/**
 * The target is explicit: DATABASE_URL usually points at the dev database, and 10,000 seed
 * clients with millions of hits are not something to add to it by accident.
 */
const databaseName = (raw: string | undefined): string => {
  if (raw === undefined) {
    throw new UsageError(
      "--database is required: the database to fill (created if missing) on DATABASE_URL's server, e.g. pnpm seed --database usage_seed --rows 1M",
    );
  }
  if (!DATABASE_NAME.test(raw))
    throw new UsageError(`--database "${raw}" must be letters, digits and _ (at most 63, not starting with a digit)`);
  if (RESERVED.has(raw.toLowerCase())) throw new UsageError(`--database ${raw} is a maintenance database; name one of your own`);
  return raw;
};

const DEFAULTS = { clients: 10_000, days: 30, chunk: 1_000_000 } as const;
type Count = "rows" | "clients" | "days" | "chunk";
const LIMITS = {
  rows: [1, 10_000_000_000],
  clients: [1, 1_000_000],
  days: [1, 3650],
  chunk: [1, 10_000_000],
} as const satisfies Record<Count, readonly [number, number]>;

const COUNT = /^(\d+(?:_\d+)*)(?:\.(\d+))?([kmgb])?$/i;
const SCALE: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, b: 1e9 };

/** `50000000`, `50_000_000`, `50M`, `2.5k`: a whole non-negative count, or undefined. */
export const parseCount = (raw: string): number | undefined => {
  const match = COUNT.exec(raw.trim());
  if (match === null) return undefined;
  const [, whole = "", fraction, suffix] = match;
  const value = Number(`${whole.replaceAll("_", "")}.${fraction ?? "0"}`) * (suffix === undefined ? 1 : (SCALE[suffix.toLowerCase()] ?? 1));
  const rounded = Math.round(value);
  // 2.5k is 2500; 1.0005k is not a whole number of rows.
  return Number.isSafeInteger(rounded) && Math.abs(value - rounded) < 1e-6 ? rounded : undefined;
};

const count = (name: Count, raw: string | undefined, fallback?: number): number => {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required, e.g. pnpm seed --${name} 50M`);
    return fallback;
  }
  const value = parseCount(raw);
  if (value === undefined) throw new UsageError(`--${name} "${raw}" is not a count (use e.g. 50000000, 50_000_000 or 50M)`);
  const [min, max] = LIMITS[name];
  if (value < min || value > max) throw new UsageError(`--${name} must be between ${min} and ${max.toLocaleString("en-US")} (got ${raw})`);
  return value;
};

/** Parses argv (without node and the script); throws UsageError, or returns "help". */
export const parseSeedOptions = (argv: readonly string[], maxEventAgeDays: number): SeedOptions | "help" => {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv[0] === "--" ? argv.slice(1) : [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        database: { type: "string" },
        "redis-prefix": { type: "string" },
        rows: { type: "string" },
        clients: { type: "string" },
        days: { type: "string" },
        chunk: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message.split("\n")[0] : String(error)} (${USAGE})`);
  }
  if (values.help === true) return "help";
  const text = (name: string): string | undefined => (typeof values[name] === "string" ? values[name] : undefined);
  const database = databaseName(text("database"));
  const redisPrefix = text("redis-prefix") ?? database;
  if (redisPrefix === "") throw new UsageError("--redis-prefix must not be empty");
  const options: SeedOptions = {
    database,
    redisPrefix,
    rows: count("rows", text("rows")),
    clients: count("clients", text("clients"), DEFAULTS.clients),
    days: count("days", text("days"), DEFAULTS.days),
    chunk: count("chunk", text("chunk"), DEFAULTS.chunk),
  };
  if (options.days > maxEventAgeDays) {
    throw new UsageError(
      `--days ${options.days} exceeds MAX_EVENT_AGE_DAYS (${maxEventAgeDays}): the service would not accept such old hits`,
    );
  }
  return options;
};
