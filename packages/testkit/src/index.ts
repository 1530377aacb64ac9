export * from "./env.ts";
export * from "./harness.ts";
export * from "./pg-admin.ts";
