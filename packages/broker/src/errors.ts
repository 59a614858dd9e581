// Typed failures of the broker. Expected failures carry a Kafka error-code name so handlers can put
// them into per-partition / per-topic `Error` fields; impossible states throw AssertionError instead.
import { tributary } from '@tributary/protocol';

/** A wire error-code name (Kafka's names), e.g. 'MESSAGE_TOO_LARGE'. */
export type ErrorCodeName = keyof typeof tributary.v1.ErrorCode;

/**
 * An expected, per-resource failure (unknown topic, offset out of range, ...). Never thrown across
 * a gRPC boundary as a status: handlers catch it and encode it into the response's `error` field.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: Exclude<ErrorCodeName, 'NONE'>,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The whole request is malformed (a required field missing, a nonsense value): answered with the
 * gRPC status INVALID_ARGUMENT, whose message names the field, e.g. `topics[0].topic`.
 */
export class InvalidArgumentError extends Error {
  override readonly name = 'InvalidArgumentError';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** A broken invariant: the node's state is impossible and it must not continue silently. */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Encodes a failure for a response `error` field; unknown exceptions become UNKNOWN_SERVER_ERROR. */
export function toWireError(err: unknown): tributary.v1.IError {
  const code = errorCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return { code: tributary.v1.ErrorCode[code], message };
}

/**
 * The Kafka code name of an error: our ApiError, or any error exposing a `code` that names a wire
 * code (the storage and protocol packages' typed errors use Kafka names too).
 */
export function errorCodeOf(err: unknown): ErrorCodeName {
  if (err instanceof ApiError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in tributary.v1.ErrorCode) return code as ErrorCodeName;
  if (typeof code === 'number' && tributary.v1.ErrorCode[code] !== undefined) {
    return tributary.v1.ErrorCode[code] as unknown as ErrorCodeName;
  }
  return 'UNKNOWN_SERVER_ERROR';
}

export const NO_ERROR: tributary.v1.IError = { code: tributary.v1.ErrorCode.NONE, message: '' };
