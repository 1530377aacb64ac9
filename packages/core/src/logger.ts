import { type Logger, pino } from "pino";

export type { Logger };

/** Paths that may carry a secret; pino replaces them before anything is written. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers['x-api-key']",
  "req.headers.cookie",
  "*.api_key",
  "*.email",
  "*.password",
  "*.token",
];

export const createLogger = (name: string, level: string): Logger =>
  pino({ name, level, redact: { paths: REDACT_PATHS, censor: "[redacted]" } });
