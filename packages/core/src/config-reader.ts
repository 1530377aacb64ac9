import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ConfigError, type Parser } from "./config-parsers.ts";

export type Env = Record<string, string | undefined>;

/** Reads named settings from one env; every config (shared, gateway, worker) is built with it. */
export interface SettingReader {
  /** The parsed value, or `fallback` when unset or empty; throws a ConfigError naming the setting. */
  read<T>(name: string, parse: Parser<T>, fallback?: T): T;
  /** undefined when unset or empty. */
  optional<T>(name: string, parse: Parser<T>): T | undefined;
}

export const settingReader = (env: Env): SettingReader => {
  const read = <T>(name: string, parse: Parser<T>, fallback?: T): T => {
    const raw = env[name];
    if (raw === undefined || raw === "") {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${name} is required`);
    }
    try {
      return parse(raw);
    } catch (error) {
      const why = error instanceof ConfigError ? error.message : "is invalid";
      throw new ConfigError(`${name} ${why} (got "${raw.length > 60 ? `${raw.slice(0, 60)}…` : raw}")`);
    }
  };
  const optional = <T>(name: string, parse: Parser<T>): T | undefined =>
    env[name] === undefined || env[name] === "" ? undefined : read(name, parse);
  return { read, optional };
};

/**
 * The workspace root (where pnpm-workspace.yaml is), found upward from the working
 * directory, so `pnpm --filter @usage/gateway start` (run inside apps/gateway) reads the same
 * `.env` and spools to the same place as `pnpm start`.
 */
export const projectRoot = (from = process.cwd()): string => {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    if (dirname(dir) === dir) return resolve(from);
  }
};

/** Reads `.env` from the workspace root if present; real env vars win. */
export const loadDotEnv = (path = join(projectRoot(), ".env")): void => {
  if (existsSync(path)) process.loadEnvFile(path);
};

/** What entry points do with their parser: on a bad setting, print one line and exit 1. */
export const loadOrExit = <T>(parse: (env: Env) => T, env: Env = process.env): T => {
  try {
    loadDotEnv();
    return parse(env);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`config error: ${message}\n`);
    process.exit(1);
  }
};

export { ConfigError };
