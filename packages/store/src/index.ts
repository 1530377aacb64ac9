export * from "./count-protocol.ts";
export * from "./counters.ts";
export * from "./durability.ts";
export * from "./keys.ts";
export * from "./maintenance-jobs.ts";
export * from "./queue.ts";
export * from "./redis.ts";
export * from "./scripts.ts";
