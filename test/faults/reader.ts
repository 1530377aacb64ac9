/** A read the Reader repeats: a path and the bearer token to send with it. */
export interface Read {
  path: string;
  token: string;
}

/**
 * A steady stream of reads, each to the next gateway in turn, recording every answer by
 * path and status (or the network error met), so a test can tell that none failed.
 */
export class Reader {
  /** `GET <path> → <status or error>`: how many times. */
  readonly answers = new Map<string, number>();
  reads = 0;
  ok = 0;
  #timer: NodeJS.Timeout | undefined;
  #inflight = new Set<Promise<void>>();
  #tick = 0;

  readonly #bases: () => readonly string[];
  readonly #requests: readonly Read[];
  readonly #everyMs: number;

  constructor(bases: () => readonly string[], requests: readonly Read[], everyMs = 40) {
    this.#bases = bases;
    this.#requests = requests;
    this.#everyMs = everyMs;
  }

  start(): void {
    this.#timer = setInterval(() => this.#read(), this.#everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.allSettled([...this.#inflight]);
  }

  /** The answers other than 200, for a failure message. */
  failures(): Record<string, number> {
    return Object.fromEntries([...this.answers].filter(([answer]) => !answer.endsWith("→ 200")));
  }

  #read(): void {
    const bases = this.#bases();
    const base = bases[this.#tick % bases.length];
    // Gateway by tick, read by round: every read goes to every gateway, not read i to gateway i alone.
    const request = this.#requests[Math.floor(this.#tick / bases.length) % this.#requests.length] as Read;
    this.#tick++;
    this.reads++;
    const run = fetch(`${base}${request.path}`, {
      headers: { authorization: `Bearer ${request.token}` },
      signal: AbortSignal.timeout(10_000),
    })
      .then(async (response) => {
        await response.arrayBuffer();
        if (response.status === 200) this.ok++;
        this.#count(request, String(response.status));
      })
      .catch((error: unknown) => this.#count(request, (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name))
      .finally(() => this.#inflight.delete(run));
    this.#inflight.add(run);
  }

  #count(request: Read, answer: string): void {
    const key = `GET ${request.path.split("?")[0]?.replace(/[0-9a-f-]{36}/, ":id")} → ${answer}`;
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
  }
}
