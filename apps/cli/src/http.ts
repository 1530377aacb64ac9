import { CliError, EXIT, exitCodeOf, usageError } from "./errors.ts";

/** Where the gateway is and who we are; from flags, else USAGE_URL / USAGE_ADMIN_KEY. */
export interface Settings {
  url: string;
  adminKey: string | undefined;
  timeoutMs: number;
}

export interface ApiAnswer<T> {
  status: number;
  headers: Headers;
  body: T;
}

interface ErrorBody {
  statusCode?: number;
  code?: string;
  message?: string;
}

/** Why fetch failed, in words: the `cause` holds the system error (ECONNREFUSED, ENOTFOUND...). */
const networkReason = (error: unknown): string => {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return "no answer in time";
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
};

/** One line for an error answer: status, the contract's code, its message, and a hint. */
const describeError = (status: number, body: ErrorBody | undefined, headers: Headers, path: string): string => {
  const code = body?.code ?? `HTTP ${status}`;
  const message = body?.message ?? "";
  let line = `${status} ${code}${message ? `: ${message}` : ""} (${path})`;
  if (status === 429) {
    const retryAfter = headers.get("retry-after");
    if (retryAfter) line += `; retry after ${retryAfter} s`;
  }
  return line;
};

/**
 * The one HTTP client of the CLI: JSON in and out, the admin key exchanged for a token on
 * first use (POST /api/auth/token), every failure turned into a CliError with its exit code.
 */
export class Api {
  readonly settings: Settings;
  #token: string | undefined;

  constructor(settings: Settings) {
    this.settings = settings;
  }

  /** Sends a request; 2xx answers resolve, anything else throws a CliError. */
  async send<T>(method: string, path: string, options: { body?: unknown; auth?: boolean } = {}): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.auth !== false) headers.authorization = `Bearer ${await this.token()}`;
    return this.request<T>(method, path, headers, options.body);
  }

  /** Exchanges the admin key for a token once per run. */
  async token(): Promise<string> {
    if (this.#token !== undefined) return this.#token;
    const key = this.settings.adminKey;
    if (key === undefined || key === "") throw usageError("no admin key: set USAGE_ADMIN_KEY or pass --admin-key");
    try {
      const answer = await this.request<{ access_token: string }>("POST", "/api/auth/token", { "x-api-key": key }, undefined);
      this.#token = answer.body.access_token;
      return this.#token;
    } catch (error) {
      if (error instanceof CliError && error.exitCode === EXIT.auth) {
        throw new CliError(EXIT.auth, `the admin key was refused: ${error.message}`);
      }
      throw error;
    }
  }

  /** A request without the CLI's error mapping of statuses: for `doctor`, which reads them itself. */
  async raw(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
    const response = await this.fetch(method, path, headers, undefined);
    return { status: response.status, text: await response.text() };
  }

  /** The gateway's URL with the path, for messages and the WebSocket. */
  url(path: string): URL {
    const base = this.settings.url.endsWith("/") ? this.settings.url : `${this.settings.url}/`;
    return new URL(path.replace(/^\//, ""), base);
  }

  private async request<T>(method: string, path: string, headers: Record<string, string>, body: unknown): Promise<ApiAnswer<T>> {
    const response = await this.fetch(method, path, headers, body);
    const text = await response.text().catch(() => "");
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (response.status >= 200 && response.status < 300) {
      if (parsed === undefined && text !== "") throw new CliError(EXIT.failed, `${method} ${path}: the answer is not JSON`);
      return { status: response.status, headers: response.headers, body: parsed as T };
    }
    throw new CliError(
      exitCodeOf(response.status),
      describeError(response.status, parsed as ErrorBody | undefined, response.headers, path),
    );
  }

  private async fetch(method: string, path: string, headers: Record<string, string>, body: unknown): Promise<Response> {
    const url = this.url(path);
    try {
      return await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.settings.timeoutMs),
        redirect: "error",
      });
    } catch (error) {
      throw new CliError(EXIT.network, `cannot reach ${url.origin}: ${networkReason(error)}`);
    }
  }
}
