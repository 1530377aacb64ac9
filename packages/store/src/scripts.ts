import { readFileSync } from "node:fs";
import type { Arg } from "./count-protocol.ts";
import type { RedisConnection } from "./redis.ts";

const lua = (name: string): string => readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), "utf8");

const SCRIPTS = {
  countHits: { numberOfKeys: 0, lua: lua("count-hits") },
  uncountHits: { numberOfKeys: 0, lua: lua("uncount-hits") },
  rankRange: { lua: lua("rank-range") },
  raiseCounter: { numberOfKeys: 4, lua: lua("raise-counter") },
  raiseRank: { numberOfKeys: 2, lua: lua("raise-rank") },
  storeIfNewer: { numberOfKeys: 1, lua: lua("store-if-newer") },
  cachedRead: { numberOfKeys: 1, lua: lua("cached-read") },
} as const;

/** The service's Lua scripts as typed commands (EVALSHA, reloaded by ioredis after a flush). */
export interface ScriptCommands {
  countHits(...argv: Arg[]): Promise<Array<string | number>>;
  uncountHits(...argv: Arg[]): Promise<number>;
  rankRange(numKeys: number, ...keysAndArgs: Arg[]): Promise<string[]>;
  raiseCounter(k1: string, k2: string, k3: string, k4: string, ...argv: Arg[]): Promise<number>;
  raiseRank(k1: string, k2: string, ...argv: Arg[]): Promise<number>;
  storeIfNewer(key: string, version: number, computedAtMs: number, body: string, ttlSeconds: number): Promise<[string, string, string]>;
  cachedRead(versionKey: string, cacheKeyPrefix: string): Promise<[string, string | null]>;
}

export const withScripts = (redis: RedisConnection): RedisConnection & ScriptCommands => {
  for (const [name, definition] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, definition);
  }
  return redis as RedisConnection & ScriptCommands;
};
