/** The closed set of error codes of the public contract, with their HTTP status. */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  EMAIL_TAKEN: 409,
  /** The resource's state does not allow the action (e.g. a new key for a revoked client). */
  CONFLICT: 409,
  /** The resource existed but has expired (an export's file after 24 h). */
  GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface AppErrorOptions {
  /** Seconds after which a retry may succeed; becomes the retry-after header. */
  retryAfter?: number;
  headers?: Record<string, string | number>;
  cause?: unknown;
}

/** The one error type the service throws on purpose; the HTTP layer maps it by `code`. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly retryAfter: number | undefined;
  readonly headers: Record<string, string | number>;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.statusCode = ERROR_STATUS[code];
    this.retryAfter = options.retryAfter;
    this.headers = options.headers ?? {};
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;
