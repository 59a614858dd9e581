// Errors the CLI reports to the user. Every failure ends as one stderr line
// `error: CODE: message` (CODE is a typed error name when one is known) and a non-zero exit code.

export const EXIT_OK = 0;
/** Any failure: bad input, a broker error, records not acknowledged. */
export const EXIT_FAILURE = 1;
/** `produce` stopped by SIGINT/SIGTERM before the end of its input (the shell's 128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;
/** Command-line usage errors detected by the parser (commander's own convention). */
export const EXIT_USAGE = 1;

export interface CliErrorOptions {
  /** Typed error name shown before the message, e.g. `UNKNOWN_TOPIC_OR_PARTITION` or `INVALID_ARGUMENT`. */
  readonly code?: string;
  readonly exitCode?: number;
  readonly cause?: unknown;
}

/** An expected failure the CLI reports without a stack trace. */
export class CliError extends Error {
  readonly code: string | undefined;
  readonly exitCode: number;

  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = options.code;
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
  }
}

/** Bad user input (a flag value, an offset spec, a `--set` pair): always names what was wrong. */
export function invalidArgument(message: string): CliError {
  return new CliError(message, { code: 'INVALID_ARGUMENT' });
}

/**
 * The typed error name of any error we may see: our CliError, a client/broker error carrying
 * `code` (a name like 'NOT_LEADER_OR_FOLLOWER' or a numeric code with a name lookup), a config
 * error naming its key, or a gRPC status error. Undefined when nothing typed is known.
 */
export function errorCodeName(error: unknown, nameForNumericCode?: (code: number) => string | undefined): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const record = error as { code?: unknown; errorCode?: unknown; name?: unknown };
  for (const candidate of [record.errorCode, record.code]) {
    if (typeof candidate === 'string' && /^[A-Z][A-Z0-9_]*$/.test(candidate)) return candidate;
    if (typeof candidate === 'number' && nameForNumericCode !== undefined) {
      const name = nameForNumericCode(candidate);
      if (name !== undefined) return name;
    }
  }
  if (record.name === 'ConfigError') return 'INVALID_CONFIG';
  return undefined;
}

/** One line for stderr: `error: CODE: message` or `error: message`. */
export function formatErrorLine(error: unknown, nameForNumericCode?: (code: number) => string | undefined): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = errorCodeName(error, nameForNumericCode);
  if (code === undefined || message.startsWith(code)) return `error: ${message}`;
  return `error: ${code}: ${message}`;
}
