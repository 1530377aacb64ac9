import type { Redis } from "ioredis";
import { isCluster, type RedisConnection } from "./redis.ts";

const risksOf = async (node: Redis): Promise<string[]> => {
  let settings: string[];
  try {
    const [aof, policy, fsync] = await Promise.all([
      node.config("GET", "appendonly"),
      node.config("GET", "maxmemory-policy"),
      node.config("GET", "appendfsync"),
    ]);
    settings = [...(aof as string[]), ...(policy as string[]), ...(fsync as string[])];
  } catch {
    return ["Redis durability is unknown (CONFIG GET is not allowed): make sure AOF is on and maxmemory-policy is noeviction"];
  }
  const value = (name: string): string | undefined => settings[settings.indexOf(name) + 1];
  const risks: string[] = [];
  if (value("appendonly") !== "yes") risks.push("appendonly is off: a Redis crash or restart loses every queued hit not yet stored");
  else if (value("appendfsync") === "no") risks.push("appendfsync is no: a Redis crash can lose the last ~30 s of queued hits");
  if (value("maxmemory-policy") !== "noeviction") {
    risks.push(`maxmemory-policy is ${value("maxmemory-policy")}: under memory pressure Redis may evict queued hits`);
  }
  return risks;
};

/**
 * What in Redis' configuration can lose queued hits, as sentences for a warning (empty when
 * it is set up as the queue needs). Managed services that forbid CONFIG give "unknown". On a
 * cluster every primary is asked (the client holds connections to primaries only; replicas
 * are expected to share their configuration, as they may be promoted).
 */
export const durabilityRisks = async (redis: RedisConnection): Promise<string[]> => {
  if (!isCluster(redis)) return risksOf(redis);
  const nodes = redis.nodes("master");
  const perNode = await Promise.all(
    nodes.map(async (node) => (await risksOf(node)).map((risk) => `${node.options.host}:${node.options.port}: ${risk}`)),
  );
  return perNode.flat();
};
