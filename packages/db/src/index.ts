export * from "./client-admin.ts";
export * from "./clients.ts";
export * from "./create-database.ts";
export * from "./db.ts";
export * from "./hits.ts";
export * from "./migrate.ts";
export * from "./partitions.ts";
export type * from "./schema.ts";
export * from "./usage.ts";
