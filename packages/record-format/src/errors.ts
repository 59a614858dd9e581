// The typed errors of the record format. Every one is an expected failure caused by its input (hostile or
// corrupt bytes, a bad argument), never a broken invariant (those are AssertionErrors).
//
// `code` is the wire ErrorCode the failure travels as (proto/common.proto) and `retriable` its retry
// semantics there. This package depends on nothing of ours, so it cannot import the generated enum: the
// numbers are written out here, and packages/protocol's errors test pins them to the enum and its table.
// @tributary/protocol re-exports these classes under the same names and counts them as TributaryErrors.

/** Wire codes of the failures this package reports; see proto/common.proto. */
export const RECORD_ERROR_CODE = {
  CORRUPT_MESSAGE: 3,
  MESSAGE_TOO_LARGE: 11,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  INVALID_RECORD: 87,
  INVALID_ARGUMENT: 200,
} as const;

export type RecordErrorName = keyof typeof RECORD_ERROR_CODE;

/** Base class of every error this package throws. */
export abstract class RecordFormatError extends Error {
  /** Kafka's name of the failure, e.g. `CORRUPT_MESSAGE`. */
  abstract readonly errorName: RecordErrorName;
  /** Wire ErrorCode (RECORD_ERROR_CODE[errorName]). */
  abstract readonly code: number;
  abstract readonly retriable: boolean;
}

/** A record batch (or a record in it) is malformed: bad framing, magic, CRC, varint, length or count. */
export class CorruptRecordError extends RecordFormatError {
  override name = 'CorruptRecordError';
  readonly errorName = 'CORRUPT_MESSAGE';
  readonly code: number = RECORD_ERROR_CODE.CORRUPT_MESSAGE;
  // Kafka's CorruptRecordException is retriable: the bytes may have been damaged in flight.
  readonly retriable = true;
}

/**
 * A well-framed batch whose contents break a rule the broker enforces before appending (Kafka's
 * InvalidRecordException): its header's record count or offset range disagrees with its records, a
 * client sent a control batch, ...
 */
export class InvalidRecordError extends RecordFormatError {
  override name = 'InvalidRecordError';
  readonly errorName = 'INVALID_RECORD';
  readonly code: number = RECORD_ERROR_CODE.INVALID_RECORD;
  readonly retriable = false;
}

/** A batch or request is larger than a configured limit (`max.message.bytes`, `maxBatchBytes`...). */
export class MessageTooLargeError extends RecordFormatError {
  override name = 'MessageTooLargeError';
  readonly errorName = 'MESSAGE_TOO_LARGE';
  readonly code: number = RECORD_ERROR_CODE.MESSAGE_TOO_LARGE;
  readonly retriable = false;
}

/** A batch uses a compression codec this build does not implement (snappy, zstd). */
export class UnsupportedCompressionError extends RecordFormatError {
  override name = 'UnsupportedCompressionError';
  readonly errorName = 'UNSUPPORTED_FOR_MESSAGE_FORMAT';
  readonly code: number = RECORD_ERROR_CODE.UNSUPPORTED_FOR_MESSAGE_FORMAT;
  readonly retriable = false;
  readonly codec: number;
  constructor(codec: number) {
    super(`unsupported compression codec ${codec} (supported: 0 none, 1 gzip, 3 lz4)`);
    this.codec = codec;
  }
}

/** A caller-supplied value is malformed. `field` names it (a request field or an option path). */
export class InvalidArgumentError extends RecordFormatError {
  override name = 'InvalidArgumentError';
  readonly errorName = 'INVALID_ARGUMENT';
  readonly code: number = RECORD_ERROR_CODE.INVALID_ARGUMENT;
  readonly retriable = false;
  readonly field: string;
  readonly detail: string;
  constructor(field: string, detail: string) {
    super(field === '' ? detail : `${field}: ${detail}`);
    this.field = field;
    this.detail = detail;
  }
}
