import type { TokenResponse } from "./api-types.ts";

/** An answer other than 2xx, in the contract's error shape; status 0 when nothing answered. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
  /** The service did not answer, or answered that it cannot right now: worth a retry. */
  get unavailable(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

export interface ApiEvents {
  /** A token that the server no longer takes (expired, or its client revoked). */
  onUnauthorized(): void;
  /**
   * How the last call to one route went (`area`: its path without the query): a failure
   * worth a banner (unavailable, or refused with 403), or undefined once it answers again.
   */
  onOutcome(area: string, problem: ApiError | undefined): void;
}

type Method = "GET" | "POST" | "PATCH";

const call = async <T>(method: Method, path: string, headers: Record<string, string>, body?: unknown): Promise<T> => {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "NETWORK", "the service is not answering");
  }
  const text = await response.text().catch(() => "");
  const parsed: unknown = text === "" ? undefined : safeJson(text);
  if (response.ok) return parsed as T;
  const error = (parsed ?? {}) as { code?: unknown; message?: unknown };
  throw new ApiError(
    response.status,
    typeof error.code === "string" ? error.code : "HTTP_ERROR",
    typeof error.message === "string" ? error.message : `HTTP ${response.status}`,
  );
};

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** Exchanges an API key (a client's or the admin's) for an access token. */
export const exchangeKey = (apiKey: string): Promise<TokenResponse> => call("POST", "/api/auth/token", { "x-api-key": apiKey });

export interface Api {
  get<T>(path: string): Promise<T>;
  send<T>(method: "POST" | "PATCH", path: string, body?: unknown): Promise<T>;
}

/** Calls with the session's token; reports reachability and a refused token to the page. */
export const createApi = (token: string, events: ApiEvents): Api => {
  const authorized = async <T>(method: Method, path: string, body?: unknown): Promise<T> => {
    const area = `${method} ${path.split("?")[0]}`;
    try {
      const result = await call<T>(method, path, { authorization: `Bearer ${token}` }, body);
      events.onOutcome(area, undefined);
      return result;
    } catch (error) {
      if (error instanceof ApiError) {
        if (error.status === 401) events.onUnauthorized();
        else events.onOutcome(area, error.unavailable || error.status === 403 ? error : undefined);
      }
      throw error;
    }
  };
  return {
    get: (path) => authorized("GET", path),
    send: (method, path, body) => authorized(method, path, body),
  };
};
