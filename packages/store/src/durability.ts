import type { Redis } from "ioredis";

/**
 * What in this Redis' configuration can lose queued hits, as sentences for a warning (empty
 * when it is set up as the queue needs). Managed services that forbid CONFIG give "unknown".
 */
export const durabilityRisks = async (redis: Redis): Promise<string[]> => {
  let settings: string[];
  try {
    const [aof, policy, fsync] = await Promise.all([
      redis.config("GET", "appendonly"),
      redis.config("GET", "maxmemory-policy"),
      redis.config("GET", "appendfsync"),
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
