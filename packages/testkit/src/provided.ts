/** What the global setup hands to every test file. */
declare module "vitest" {
  export interface ProvidedContext {
    templateDatabase: string;
    /** REDIS_CLUSTER_NODES of the run's private cluster; empty when the run uses one Redis node. */
    redisClusterNodes: string;
  }
}

export {};
