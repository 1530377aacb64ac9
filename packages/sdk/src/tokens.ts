import { type CallSettings, callWithRetries } from "./call.ts";
import { codeOfStatus, UsageError } from "./errors.ts";
import { messageOf } from "./http.ts";

interface Entry {
  token: string;
  /** When to fetch a new one: before it expires, so that no read carries an expired token. */
  renewAt: number;
}

/** Renew at 80 % of the token's life, and at least a minute before it ends when it lives long enough. */
const renewAtFor = (obtainedAt: number, expiresInSeconds: number): number => {
  const life = expiresInSeconds * 1000;
  return obtainedAt + life - Math.min(60_000, life * 0.2);
};

/**
 * Access tokens per API key (`POST /api/auth/token`), fetched once for concurrent callers,
 * renewed before they expire and after a 401.
 */
export class TokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Map<string, Promise<string>>();
  readonly #settings: CallSettings;
  readonly #url: string;

  constructor(settings: CallSettings, baseUrl: string) {
    this.#settings = settings;
    this.#url = `${baseUrl}/api/auth/token`;
  }

  get(apiKey: string): Promise<string> {
    const entry = this.#entries.get(apiKey);
    if (entry !== undefined && Date.now() < entry.renewAt) return Promise.resolve(entry.token);
    const pending = this.#pending.get(apiKey);
    if (pending !== undefined) return pending;
    const fetching = this.#exchange(apiKey).finally(() => this.#pending.delete(apiKey));
    this.#pending.set(apiKey, fetching);
    return fetching;
  }

  /** The service refused this token (expired, secret rotated): the next get() fetches another. */
  invalidate(apiKey: string, token: string): void {
    if (this.#entries.get(apiKey)?.token === token) this.#entries.delete(apiKey);
  }

  async #exchange(apiKey: string): Promise<string> {
    const obtainedAt = Date.now();
    const answer = await callWithRetries(this.#settings, { method: "POST", url: this.#url, headers: { "x-api-key": apiKey } });
    if (answer.status !== 200) {
      throw new UsageError(codeOfStatus(answer.status), `token exchange refused: ${messageOf(answer.text, answer.status)}`, {
        outcome: "failed",
        status: answer.status,
      });
    }
    const body = JSON.parse(answer.text) as { access_token: string; expires_in: number };
    this.#entries.set(apiKey, { token: body.access_token, renewAt: renewAtFor(obtainedAt, body.expires_in) });
    return body.access_token;
  }
}

/** GET a JSON read with the key's token; a 401 fetches a new token and tries once more. */
export const readJson = async <T>(settings: CallSettings, tokens: TokenCache, apiKey: string, url: string): Promise<T> => {
  for (let renewed = false; ; renewed = true) {
    const token = await tokens.get(apiKey);
    const answer = await callWithRetries(settings, { method: "GET", url, headers: { authorization: `Bearer ${token}` } });
    if (answer.status === 200) return JSON.parse(answer.text) as T;
    if (answer.status === 401 && !renewed) {
      tokens.invalidate(apiKey, token);
      continue;
    }
    throw new UsageError(codeOfStatus(answer.status), `GET ${new URL(url).pathname}: ${messageOf(answer.text, answer.status)}`, {
      outcome: "failed",
      status: answer.status,
    });
  }
};
