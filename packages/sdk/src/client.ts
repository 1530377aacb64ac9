import { Batcher } from "./batcher.ts";
import type { CallSettings } from "./call.ts";
import { UsageError } from "./errors.ts";
import { toWireHit } from "./hit.ts";
import { REPORT } from "./internal.ts";
import { resolveOptions } from "./options.ts";
import { Recorder } from "./record.ts";
import { linkSignals, streamEvents } from "./stream.ts";
import { readJson, TokenCache } from "./tokens.ts";
import type {
  DailyOptions,
  DailyUsage,
  FlushOptions,
  FlushResult,
  Hit,
  KeyOption,
  RecordOptions,
  RecordResult,
  StreamOptions,
  TopOptions,
  TopUsage,
  UsageClientOptions,
  UsageEvent,
  UsageStats,
} from "./types.ts";

const DEFAULT_DEADLINE_MS = 10_000;
const newId = (): string => globalThis.crypto.randomUUID();

/**
 * The client of the usage service: `track()` buffers hits and sends them in batches per API
 * key; `record()` checks and counts one hit now; `daily()`, `top()` and `stream()` read usage.
 */
export class UsageClient {
  readonly #baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #report: (error: UsageError) => void;
  readonly #batcher: Batcher;
  readonly #recorder: Recorder;
  readonly #tokens: TokenCache;
  readonly #calls: CallSettings;
  /** Aborted by shutdown(): ends every stream. */
  readonly #stop = new AbortController();
  #shutdown: Promise<FlushResult> | undefined;

  constructor(options: UsageClientOptions) {
    const settings = resolveOptions(options);
    this.#baseUrl = settings.baseUrl;
    this.#apiKey = settings.apiKey;
    const onError = settings.onError;
    this.#report = (error) => {
      try {
        onError(error);
      } catch {
        // the caller's handler must not break the client
      }
    };
    this.#calls = { fetch: settings.fetch, timeoutMs: settings.timeoutMs, maxRetries: settings.maxRetries };
    this.#batcher = new Batcher({ ...settings, report: this.#report });
    this.#recorder = new Recorder(this.#calls, this.#baseUrl);
    this.#tokens = new TokenCache(this.#calls, this.#baseUrl);
  }

  /**
   * Buffers one hit and returns its event id, in about a microsecond. Throws a TypeError for
   * a hit no server could take (bad IP, endpoint not starting with "/"); whatever happens
   * later is reported through `onError` and `stats()`.
   */
  track(hit: Hit, options?: KeyOption): string {
    const key = this.#keyOf(options);
    const wire = toWireHit(hit, newId);
    this.#batcher.add(key, wire);
    return wire.event_id;
  }

  /** Checks and counts one hit now (`POST /api/logs`). Over quota resolves `accepted: false`. */
  record(hit: Hit, options: RecordOptions = {}): Promise<RecordResult> {
    const key = this.#keyOf(options);
    const wire = toWireHit(hit, newId);
    return this.#recorder.record(key, wire, options.timeoutMs).catch((error: unknown) => {
      if (error instanceof UsageError) this.#report(error);
      throw error;
    });
  }

  /** Resolves once every hit tracked before the call is acknowledged, rejected or dropped (at the deadline). */
  flush(options: FlushOptions = {}): Promise<FlushResult> {
    return this.#batcher.flush(options.timeoutMs ?? DEFAULT_DEADLINE_MS);
  }

  /** Flushes within the deadline, then stops: timers cleared, streams ended, later track() calls dropped. */
  shutdown(options: FlushOptions = {}): Promise<FlushResult> {
    if (this.#shutdown === undefined) {
      this.#stop.abort();
      this.#shutdown = this.#batcher.close(options.timeoutMs ?? DEFAULT_DEADLINE_MS);
    }
    return this.#shutdown;
  }

  stats(): UsageStats {
    return this.#batcher.stats();
  }

  /** For the middleware: its own failures go where the client's go. */
  [REPORT](error: UsageError): void {
    this.#report(error);
  }

  /** `GET /api/usage/daily`: the last 7 UTC days (a client: itself; the admin key: every client, paged). */
  async daily(options: DailyOptions = {}): Promise<DailyUsage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    if (options.cursor !== undefined) query.set("cursor", options.cursor);
    return this.#read<DailyUsage>("/api/usage/daily", query, options);
  }

  /** `GET /api/usage/top` (the admin key): top clients of the last 24 hours. */
  async top(options: TopOptions = {}): Promise<TopUsage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    return this.#read<TopUsage>("/api/usage/top", query, options);
  }

  /** `GET /api/usage/stream`: a snapshot first after each (re)connection, then every update. */
  stream(options: StreamOptions = {}): AsyncGenerator<UsageEvent, void, undefined> {
    const apiKey = this.#keyOf(options);
    const { signal, release } = linkSignals(options.signal, this.#stop.signal);
    const events = streamEvents({ url: `${this.#baseUrl.replace(/^http/, "ws")}/api/usage/stream`, tokens: this.#tokens, apiKey, signal });
    return (async function* () {
      try {
        yield* events;
      } finally {
        release();
      }
    })();
  }

  async #read<T>(path: string, query: URLSearchParams, options: KeyOption): Promise<T> {
    const search = query.toString();
    return readJson<T>(this.#calls, this.#tokens, this.#keyOf(options), `${this.#baseUrl}${path}${search === "" ? "" : `?${search}`}`);
  }

  #keyOf(options: KeyOption | undefined): string {
    const key = options?.apiKey ?? this.#apiKey;
    if (typeof key !== "string" || key === "") throw new TypeError("@usage/sdk: no API key (give apiKey to the client or to the call)");
    return key;
  }
}
