/**
 * Exit codes, one per kind of failure, stable for scripts. The table is repeated in the
 * README and in `usagectl --help`; change all three together, never renumber.
 */
export const EXIT = {
  ok: 0,
  /** Anything else: an answer the CLI does not understand, a confirmation answered "no". */
  failed: 1,
  /** Bad usage: unknown command or option, bad argument, missing setting, no confirmation; an API 400. */
  usage: 2,
  /** The API refused the credentials: 401, or 403 (wrong role, or not on ADMIN_IP_ALLOWLIST). */
  auth: 3,
  /** No such client, job or route: 404 (and 410). */
  notFound: 4,
  /** Over a quota: 429. */
  rateLimited: 5,
  /** The server failed: 5xx, including 503 and a gateway that is up but not ready. */
  server: 6,
  /** Nothing answered: connection refused, DNS, TLS, timeout, a stream cut off. */
  network: 7,
  /** The resource's state does not allow it: 409 (an email already registered). */
  conflict: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_HELP = `Exit codes:
  0  success
  1  other failure (an unexpected answer; a confirmation answered "no")
  2  bad usage: unknown command or option, bad argument, missing setting, no --yes without a terminal; API 400
  3  authentication: the admin key or token was refused (401), or not allowed (403, e.g. ADMIN_IP_ALLOWLIST)
  4  not found (404)
  5  rate limited (429)
  6  server error (5xx), or the gateway is up but Postgres or Redis is not ready
  7  network: the gateway could not be reached, timed out, or the stream was cut off
  8  conflict (409): e.g. the email is already registered`;

export const EXIT_SHORT =
  "Exit codes: 0 ok, 1 other, 2 bad usage, 3 auth (401/403), 4 not found, 5 rate limited, 6 server (5xx), 7 network, 8 conflict (usagectl --help)";

/** A failure that ends the command with one line on stderr and its exit code. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.usage, message);

/** The exit code of an HTTP error status. */
export const exitCodeOf = (status: number): ExitCode => {
  if (status === 400 || status === 413 || status === 415) return EXIT.usage;
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404 || status === 410) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 429) return EXIT.rateLimited;
  if (status >= 500) return EXIT.server;
  return EXIT.failed;
};
