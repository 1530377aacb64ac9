import type { Cluster } from "ioredis";

/**
 * WAIT 1 on the connection that wrote `key`: how many replicas of that key's primary have
 * received every write this connection sent there so far (0 when none did within
 * `timeoutMs`). WAIT takes no key, so it rides in a pipeline behind a read of `key`, which
 * sends it to that slot's primary over the same connection the write went through.
 */
export const replicaAck = async (cluster: Cluster, key: string, timeoutMs: number): Promise<number> => {
  const replies = await cluster.pipeline().exists(key).call("WAIT", 1, timeoutMs).exec();
  const [, wait] = replies ?? [];
  if (wait === undefined) throw new Error("WAIT got no reply");
  const [error, replicas] = wait;
  if (error) throw error;
  return Number(replicas);
};
