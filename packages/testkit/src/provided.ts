import type { PgServers } from "./pg-servers.ts";

/** What the global setup hands to every test file. */
declare module "vitest" {
  export interface ProvidedContext {
    templateDatabase: string;
    pgServers: PgServers;
  }
}
