// The thin edge between grpc-js and domain code: runs an async handler, maps a malformed request to
// INVALID_ARGUMENT (naming the field) and anything unexpected to INTERNAL, logging it.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { InvalidArgumentError, toWireError } from './errors.js';
import { isMalformedRequest, MALFORMED_REQUEST, type tributary } from '@tributary/protocol';

export function unary<Req, Res>(
  logger: Logger,
  method: string,
  handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    if (isMalformedRequest(call.request)) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: `request: not a valid ${method} request: ${call.request[MALFORMED_REQUEST]}` });
      return;
    }
    handler(call.request, call).then(
      (response) => callback(null, response),
      (err: unknown) => callback(toServiceError(logger, method, err)),
    );
  };
}

export function toServiceError(logger: Logger, method: string, err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof InvalidArgumentError || (err as { name?: unknown }).name === 'InvalidArgumentError') {
    return { code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message };
  }
  logger.error({ err, method }, 'request failed unexpectedly');
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/** Throws INVALID_ARGUMENT naming `field` unless `value` is a non-empty string. */
export function requireName(value: string | null | undefined, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(field, 'is required');
  return value;
}

/** Converts a protobuf int64 that protobufjs gave us as number (--force-number) or Long. */
export function int64(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/**
 * Runs `body`; an expected refusal (an ApiError: NOT_COORDINATOR, ...) becomes the response's error
 * through `onError`. A malformed request (INVALID_ARGUMENT) and a broken invariant still fail the call.
 */
export async function answerWithError<T extends object>(body: () => Promise<T> | T, onError: (error: tributary.v1.IError) => T): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    if ((err as { name?: string }).name === 'AssertionError') throw err;
    return onError(toWireError(err));
  }
}
