import { type DestinationStream, type Logger, pino, type SerializedError } from "pino";

export type { Logger };

/** Paths that may carry a secret; pino replaces them before anything is written (`*.x` is one level down, not the top). */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers['x-api-key']",
  "req.headers.cookie",
  "api_key",
  "email",
  "password",
  "token",
  "*.api_key",
  "*.email",
  "*.password",
  "*.token",
];

const CENSOR = "[redacted]";

/** Query parameters that carry a credential: the stream's and Bull Board's `?token=`, and keys sent where they do not belong. */
const SECRET_PARAMS = new Set(["token", "access_token", "api_key"]);

/** `?name=value` or `&name=value`; a value runs to the next `&`, `#`, blank or quote (a URL quoted in an error message). */
const QUERY_PAIR = /([?&])([^=&#\s'"]*)=([^&#\s'"]*)/g;

const decodeName = (name: string): string => {
  try {
    return decodeURIComponent(name.replaceAll("+", " ")).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
};

/**
 * The text with the value of every credential query parameter replaced, wherever a query
 * string appears in it (a request URL, an error message quoting one). Names are compared
 * decoded and in any case (`%74oken=` is `token=` to the query parser). A value holding
 * another `?` is searched too, so no parameter hides in another's value.
 */
export const redactQuerySecrets = (text: string): string =>
  text.includes("=")
    ? text.replace(QUERY_PAIR, (_whole, separator: string, name: string, value: string) =>
        SECRET_PARAMS.has(decodeName(name)) ? `${separator}${name}=${CENSOR}` : `${separator}${name}=${redactQuerySecrets(value)}`,
      )
    : text;

/** What a log line says about a request: a Fastify request or Node's IncomingMessage. */
interface RequestLike {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: { host?: string };
  socket?: { remoteAddress?: string; remotePort?: number } | null;
}

/**
 * Replaces Fastify's `req` serializer (this logger's serializers win over Fastify's): the
 * same fields, the URL without credentials. A WebSocket takes its token in the query string
 * (browsers cannot set headers on one), and a URL is the first thing a request log shows.
 */
const serializeRequest = (request: RequestLike) => ({
  method: request.method,
  url: request.url === undefined ? undefined : redactQuerySecrets(request.url),
  host: request.host ?? request.headers?.host,
  remoteAddress: request.ip ?? request.socket?.remoteAddress,
  remotePort: request.socket?.remotePort,
});

/** pino's error serializer, with any URL the message or stack quotes (Fastify's bad-URL error does) cleaned the same way. */
const serializeError = (error: Error): SerializedError => {
  const serialized = pino.stdSerializers.err(error);
  // A thrown non-error comes back as it was.
  if (typeof serialized.message === "string") serialized.message = redactQuerySecrets(serialized.message);
  if (typeof serialized.stack === "string") serialized.stack = redactQuerySecrets(serialized.stack);
  return serialized;
};

/**
 * The one logger factory of every process (gateway, worker, migrate), so they share the
 * redaction. Lines go to stdout unless a destination is given (tests read them there).
 */
export const createLogger = (name: string, level: string, destination?: DestinationStream): Logger =>
  pino(
    {
      name,
      level,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      serializers: { req: serializeRequest, err: serializeError },
    },
    destination,
  );
