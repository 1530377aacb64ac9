import { randomUUID } from "node:crypto";

export interface DriverClient {
  id: string;
  key: string;
}

interface Pending {
  client: DriverClient;
  hits: Array<{ ip: string; endpoint: string; timestamp: string; event_id: string }>;
  attempts: number;
}

/**
 * An SDK-like load: a steady stream of hits with distinct event ids, spread over clients and
 * over the gateways in turn (as a load balancer would); a request that fails (refused
 * connection, 503) is sent again as is, later, to the next gateway. Records when each hit was
 * acknowledged (202), and how many requests were answered 202 at their first attempt.
 */
export class Driver {
  readonly acked = new Map<string, { clientId: string; at: number }>();
  /** Failed attempts (first ones and retries) by what they met: `HTTP 503`, `ECONNREFUSED`, … */
  readonly errors = new Map<string, number>();
  /** Requests made (a single hit or a batch), each counted once however often it was retried. */
  requests = 0;
  /** Requests whose first attempt was answered 202. */
  answeredFirstTime = 0;
  #retry: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inflight = new Set<Promise<void>>();
  #tick = 0;
  #attempts = 0;

  readonly #bases: () => readonly string[];
  readonly #clients: DriverClient[];
  readonly #everyMs: number;

  constructor(bases: () => readonly string[], clients: DriverClient[], everyMs = 50) {
    this.#bases = bases;
    this.#clients = clients;
    this.#everyMs = everyMs;
  }

  start(): void {
    this.#timer = setInterval(() => this.#send(), this.#everyMs);
  }

  /** Stops new hits, then keeps retrying the failed ones until every one is acknowledged. */
  async stop(timeoutMs = 120_000): Promise<void> {
    clearInterval(this.#timer);
    const deadline = Date.now() + timeoutMs;
    while ((this.#retry.length > 0 || this.#inflight.size > 0) && Date.now() < deadline) {
      await Promise.allSettled([...this.#inflight]);
      const again = this.#retry;
      this.#retry = [];
      for (const pending of again) this.#post(pending);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Requests not acknowledged yet (waiting for a retry or in flight): 0 once `stop` drained them. */
  get pending(): number {
    return this.#retry.length + this.#inflight.size;
  }

  /** Sum of `errors`: attempts that met no 202. */
  get failedAttempts(): number {
    return [...this.errors.values()].reduce((sum, n) => sum + n, 0);
  }

  #send(): void {
    const client = this.#clients[this.#tick % this.#clients.length] as DriverClient;
    const size = this.#tick % 2 === 0 ? 1 : 10;
    this.#tick++;
    const hits = Array.from({ length: size }, () => ({
      ip: "192.0.2.10",
      endpoint: "/fault",
      timestamp: new Date().toISOString(),
      event_id: randomUUID(),
    }));
    this.requests++;
    this.#post({ client, hits, attempts: 0 });
    if (this.#retry.length > 0 && this.#tick % 4 === 0) this.#post(this.#retry.shift() as Pending);
  }

  #post(pending: Pending): void {
    const single = pending.hits.length === 1;
    const bases = this.#bases();
    const base = bases[this.#attempts++ % bases.length];
    const run = fetch(`${base}${single ? "/api/logs" : "/api/logs/batch"}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": pending.client.key },
      body: JSON.stringify(single ? pending.hits[0] : { hits: pending.hits }),
      signal: AbortSignal.timeout(10_000),
    })
      .then(async (response) => {
        await response.arrayBuffer();
        if (response.status === 202) {
          const at = Date.now();
          if (pending.attempts === 0) this.answeredFirstTime++;
          for (const hit of pending.hits)
            if (!this.acked.has(hit.event_id)) this.acked.set(hit.event_id, { clientId: pending.client.id, at });
          return;
        }
        this.#count(`HTTP ${response.status}`);
        this.#retry.push({ ...pending, attempts: pending.attempts + 1 });
      })
      .catch((error: unknown) => {
        this.#count((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name);
        this.#retry.push({ ...pending, attempts: pending.attempts + 1 });
      })
      .finally(() => this.#inflight.delete(run));
    this.#inflight.add(run);
  }

  #count(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }
}
