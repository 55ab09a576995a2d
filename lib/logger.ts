import winston from "winston";

export type Logger = winston.Logger;
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * The process's root logger: JSON lines on stdout, one level for everything.
 * Components take children of it (`logger.child({ component })`) so every line
 * carries its context.
 */
export function createRootLogger(level: LogLevel, options: { silent?: boolean } = {}): Logger {
  return winston.createLogger({
    level,
    silent: options.silent ?? false,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    transports: [new winston.transports.Console()],
  });
}

/** A logger that prints nothing: the default for domain objects built in tests. */
export function createSilentLogger(): Logger {
  return createRootLogger("error", { silent: true });
}
