export * from "./browser.ts";
export * from "./env.ts";
export * from "./failed-jobs.ts";
export * from "./harness.ts";
export * from "./pg-admin.ts";
export * from "./processes.ts";
export * from "./redis-server.ts";
export * from "./tcp-proxy.ts";
