import type { FastifyBaseLogger } from "fastify";
import type { Bindings, ChildLoggerOptions } from "pino";

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/**
 * A request's logger, made the first time the request writes a line. Fastify makes a pino
 * child per request, and with our redaction paths pino runs every binding through the
 * redactor: about 4 % of what a single-hit request allocated, for lines that at `warn` are
 * almost never written. Lines that are written look exactly as the eager child's would.
 */
export class RequestLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;
  private readonly parent: FastifyBaseLogger;
  private readonly bindings: Bindings;
  private readonly options: ChildLoggerOptions;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.parent = parent;
    this.bindings = bindings;
    this.options = options;
  }

  /** The pino child itself; made once. */
  get logger(): FastifyBaseLogger {
    this.made ??= hasOptions(this.options) ? this.parent.child(this.bindings, this.options) : this.parent.child(this.bindings);
    return this.made;
  }

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger.level = level;
  }

  fatal(...args: unknown[]): void {
    this.write("fatal", args);
  }
  error(...args: unknown[]): void {
    this.write("error", args);
  }
  warn(...args: unknown[]): void {
    this.write("warn", args);
  }
  info(...args: unknown[]): void {
    this.write("info", args);
  }
  debug(...args: unknown[]): void {
    this.write("debug", args);
  }
  trace(...args: unknown[]): void {
    this.write("trace", args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }

  private write(level: Level, args: unknown[]): void {
    // A line below the level would make the child only to drop it (Fastify's own
    // `reply.log.debug` calls, say). A route with a level of its own decides in the child.
    if (this.made === undefined && !hasOptions(this.options) && isLevelEnabled(this.parent, level) === false) return;
    const logger = this.logger;
    Reflect.apply(logger[level], logger, args);
  }
}

/** pino's check, where the logger has it (pino loggers do; Fastify's type does not say so). */
const isLevelEnabled = (logger: FastifyBaseLogger, level: Level): boolean | undefined =>
  (logger as FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.(level);

/** Fastify passes `{}` when the route sets no level or serializers; pino is faster without it. */
const hasOptions = (options: ChildLoggerOptions): boolean => {
  for (const _ in options) return true;
  return false;
};
