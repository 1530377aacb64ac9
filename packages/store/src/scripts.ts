import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Arg } from "./count-protocol.ts";
import type { RedisConnection } from "./redis.ts";

interface LuaScript {
  lua: string;
  sha: string;
}

const load = (name: string): LuaScript => {
  const lua = readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), "utf8");
  return { lua, sha: createHash("sha1").update(lua).digest("hex") };
};

const LUA = {
  countHits: load("count-hits"),
  uncountHits: load("uncount-hits"),
  rankRange: load("rank-range"),
  raiseCounter: load("raise-counter"),
  raiseRank: load("raise-rank"),
  storeIfNewer: load("store-if-newer"),
} as const;

/** The keys a script call declares (the first routes it) and its other arguments. */
export interface ScriptCall {
  keys: string[];
  args: Arg[];
}

/** The service's Lua scripts, each declaring every key it is given (keys.ts, lua/*.lua). */
export interface Scripts {
  countHits(call: ScriptCall): Promise<Array<string | number>>;
  uncountHits(call: ScriptCall): Promise<number>;
  /** The first `count` rows (0: all) of the summed zsets, flat (member, negated score, …). */
  rankRange(zsets: readonly string[], count: number): Promise<string[]>;
  raiseCounter(keys: readonly [string, string, string, string], clientId: string, ttlSeconds: number, target: number): Promise<number>;
  raiseRank(keys: readonly [string, string], clientId: string, ttlSeconds: number, target: number): Promise<number>;
  storeIfNewer(key: string, version: number, computedAtMs: number, body: string, ttlSeconds: number): Promise<[string, string, string]>;
}

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith("NOSCRIPT");

/**
 * Scripts go by EVALSHA, and by EVAL where a node lacks them (a restart, a new primary).
 * Not ioredis' defineCommand: with auto-pipelining on a cluster it routes a defined command
 * by its first argument, which for a variable number of keys is the key count, so calls for
 * different nodes would share a pipeline and fail. EVALSHA is routed by its first key.
 */
export const scriptsOf = (redis: RedisConnection): Scripts => {
  const run = async <T>({ sha, lua }: LuaScript, keys: readonly string[], args: readonly Arg[]): Promise<T> => {
    try {
      return (await redis.evalsha(sha, keys.length, ...keys, ...args)) as T;
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return (await redis.eval(lua, keys.length, ...keys, ...args)) as T;
    }
  };
  return {
    countHits: ({ keys, args }) => run(LUA.countHits, keys, args),
    uncountHits: ({ keys, args }) => run(LUA.uncountHits, keys, args),
    rankRange: (zsets, count) => run(LUA.rankRange, zsets, [count]),
    raiseCounter: (keys, clientId, ttlSeconds, target) => run(LUA.raiseCounter, keys, [clientId, ttlSeconds, target]),
    raiseRank: (keys, clientId, ttlSeconds, target) => run(LUA.raiseRank, keys, [clientId, ttlSeconds, target]),
    storeIfNewer: (key, version, computedAtMs, body, ttlSeconds) => run(LUA.storeIfNewer, [key], [version, computedAtMs, body, ttlSeconds]),
  };
};
