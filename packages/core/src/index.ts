export * from "./config.ts";
export type { Cidr } from "./config-parsers.ts";
export * from "./crypto.ts";
export * from "./errors.ts";
export * from "./group-commit.ts";
export * from "./logger.ts";
export * from "./time.ts";
