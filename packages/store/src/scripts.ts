import { readFileSync } from "node:fs";
import type { Arg } from "./count-protocol.ts";
import type { RedisConnection } from "./redis.ts";

const lua = (name: string): string => readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), "utf8");

/**
 * Every script declares the keys that route it (its first key picks the slot on a cluster);
 * a key a script builds itself shares the hash tag of a declared one. The counting scripts
 * and rank-range take a variable number of keys (one per bucket, one per zset).
 */
const SCRIPTS = {
  countHits: { lua: lua("count-hits") },
  uncountHits: { lua: lua("uncount-hits") },
  rankRange: { lua: lua("rank-range") },
  raiseCounter: { numberOfKeys: 4, lua: lua("raise-counter") },
  raiseRank: { numberOfKeys: 2, lua: lua("raise-rank") },
  storeIfNewer: { numberOfKeys: 1, lua: lua("store-if-newer") },
} as const;

/** The service's Lua scripts as typed commands (EVALSHA, reloaded by ioredis after a flush). */
export interface ScriptCommands {
  countHits(numKeys: number, ...keysAndArgs: Arg[]): Promise<Array<string | number>>;
  uncountHits(numKeys: number, ...keysAndArgs: Arg[]): Promise<number>;
  rankRange(numKeys: number, ...keysAndArgs: Arg[]): Promise<string[]>;
  raiseCounter(k1: string, k2: string, k3: string, k4: string, ...argv: Arg[]): Promise<number>;
  raiseRank(k1: string, k2: string, ...argv: Arg[]): Promise<number>;
  storeIfNewer(key: string, version: number, computedAtMs: number, body: string, ttlSeconds: number): Promise<[string, string, string]>;
}

export const withScripts = <C extends RedisConnection>(redis: C): C & ScriptCommands => {
  for (const [name, definition] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, definition);
  }
  return redis as C & ScriptCommands;
};
