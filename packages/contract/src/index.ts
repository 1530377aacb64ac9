export * from "./clients.ts";
export * from "./common.ts";
export * from "./health.ts";
export * from "./hits.ts";
export * from "./queue-ops.ts";
export * from "./usage.ts";
export * from "./usage-changes.ts";
export * from "./wire-hit.ts";
