/** The slice of pino's API storage logs through; pass a pino child logger (component, topic, partition). */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const NOOP_LOGGER: Logger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});

/** Milliseconds since the epoch; injected so tests control segment.ms, flush.ms and LogAppendTime. */
export type Clock = () => number;
