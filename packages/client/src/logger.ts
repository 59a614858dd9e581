// The tiny logger port the client writes to; pino's child loggers satisfy it. Silent by default.
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
export const SILENT_LOGGER: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Options that are not Kafka properties (objects, not strings): passed as the second constructor argument. */
export interface ClientRuntimeOptions {
  readonly logger?: Logger;
}
