import { isCluster, type RedisConnection } from "./redis.ts";

/**
 * Change events on pub/sub. On a cluster they are sharded (SPUBLISH/SSUBSCRIBE): a message
 * travels to its channel's shard only, instead of being broadcast over every node's bus.
 * Delivery is at most once either way: a lost message delays a cache drop or a dashboard,
 * and the periodic re-checks catch up.
 */
export const publish = (redis: RedisConnection, channel: string, message: string): Promise<unknown> =>
  isCluster(redis) ? redis.spublish(channel, message) : redis.publish(channel, message);

/**
 * Calls `onMessage` with each message on `channel`, from a connection of the "subscriber" role
 * (a subscribed connection can run nothing else). ioredis subscribes again after a reconnect,
 * and on a cluster after the channel's shard moved to another primary.
 */
export const subscribe = async (subscriber: RedisConnection, channel: string, onMessage: (message: string) => void): Promise<void> => {
  const cluster = isCluster(subscriber);
  subscriber.on(cluster ? "smessage" : "message", (from: string, message: string) => {
    if (from === channel) onMessage(message);
  });
  await (cluster ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel));
};
