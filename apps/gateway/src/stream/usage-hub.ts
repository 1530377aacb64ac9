import { decodeUsageChanges, type UsageUpdated } from "@usage/contract";
import type { Logger } from "@usage/core";
import { type RedisConnection, subscribe } from "@usage/store";

/** Something that can receive stream messages: a WebSocket, seen through what the hub needs. */
export interface Subscriber {
  /** Client id this subscriber may see, or null for an admin (sees every client). */
  readonly clientId: string | null;
  send(message: string): void;
  close(code: number, reason: string): void;
}

/**
 * Relays the worker's committed usage changes (Redis pub/sub) to the subscribers of this
 * gateway that may see them: the client itself and admins. One Redis subscription per
 * gateway, whatever the number of sockets.
 */
export class UsageHub {
  readonly #byClient = new Map<string, Set<Subscriber>>();
  readonly #admins = new Set<Subscriber>();
  readonly #subscriber: RedisConnection;
  readonly #channel: string;
  readonly #log: Logger;
  #relayed = 0;

  constructor(subscriber: RedisConnection, channel: string, log: Logger) {
    this.#subscriber = subscriber;
    this.#channel = channel;
    this.#log = log;
  }

  async start(): Promise<void> {
    // ioredis re-subscribes by itself after a reconnect.
    await subscribe(this.#subscriber, this.#channel, (message) => this.#dispatch(message));
  }

  add(subscriber: Subscriber): () => void {
    if (subscriber.clientId === null) this.#admins.add(subscriber);
    else {
      const set = this.#byClient.get(subscriber.clientId) ?? new Set();
      set.add(subscriber);
      this.#byClient.set(subscriber.clientId, set);
    }
    return () => this.#remove(subscriber);
  }

  /** Closes every socket of this client (revoked: code 4401); they leave the hub as they close. */
  closeClient(clientId: string, code: number, reason: string): number {
    const sockets = [...(this.#byClient.get(clientId) ?? [])];
    for (const subscriber of sockets) {
      try {
        subscriber.close(code, reason);
      } catch (error) {
        this.#log.debug({ err: error }, "stream close failed");
      }
    }
    return sockets.length;
  }

  get size(): number {
    let total = this.#admins.size;
    for (const set of this.#byClient.values()) total += set.size;
    return total;
  }

  get relayed(): number {
    return this.#relayed;
  }

  #remove(subscriber: Subscriber): void {
    if (subscriber.clientId === null) {
      this.#admins.delete(subscriber);
      return;
    }
    const set = this.#byClient.get(subscriber.clientId);
    set?.delete(subscriber);
    if (set?.size === 0) this.#byClient.delete(subscriber.clientId);
  }

  #dispatch(message: string): void {
    const changes = decodeUsageChanges(message);
    if (changes === undefined) {
      this.#log.warn("ignoring a usage message that is not a JSON array");
      return;
    }
    for (const change of changes) {
      const event: UsageUpdated = { ...change, type: "usage.updated" };
      const text = JSON.stringify(event);
      for (const subscriber of this.#byClient.get(event.client_id) ?? []) this.#deliver(subscriber, text);
      for (const subscriber of this.#admins) this.#deliver(subscriber, text);
    }
  }

  #deliver(subscriber: Subscriber, text: string): void {
    try {
      subscriber.send(text);
      this.#relayed++;
    } catch (error) {
      this.#log.debug({ err: error }, "stream send failed");
    }
  }
}
