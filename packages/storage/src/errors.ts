// Typed storage errors. Expected failures (bad input, offset out of range, a failed disk) carry a Kafka
// error name as `code` and whether a retry can help. Broken invariants are not here: they throw
// node:assert's AssertionError and should crash the node.

export type StorageErrorCode =
  | 'CORRUPT_MESSAGE'
  | 'MESSAGE_TOO_LARGE'
  | 'INVALID_RECORD'
  | 'OFFSET_OUT_OF_RANGE'
  | 'UNEXPECTED_APPEND_OFFSET'
  | 'KAFKA_STORAGE_ERROR'
  | 'INVALID_CONFIG';

export abstract class StorageError extends Error {
  abstract readonly code: StorageErrorCode;
  abstract readonly retriable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A batch failed framing, magic or CRC checks. */
export class CorruptRecordError extends StorageError {
  readonly code = 'CORRUPT_MESSAGE';
  readonly retriable = false;
}

/** A batch is larger than max.message.bytes. */
export class RecordTooLargeError extends StorageError {
  readonly code = 'MESSAGE_TOO_LARGE';
  readonly retriable = false;
}

/** A well-formed batch whose header breaks a rule (record count, offsets delta). */
export class InvalidRecordError extends StorageError {
  readonly code = 'INVALID_RECORD';
  readonly retriable = false;
}

/** A fetch offset outside [logStartOffset, logEndOffset]. */
export class OffsetOutOfRangeError extends StorageError {
  readonly code = 'OFFSET_OUT_OF_RANGE';
  readonly retriable = false;
  constructor(
    message: string,
    readonly logStartOffset: number,
    readonly logEndOffset: number,
  ) {
    super(message);
  }
}

/** A follower append whose first offset is not the log end offset (Kafka's UnexpectedAppendOffsetException). */
export class UnexpectedAppendOffsetError extends StorageError {
  readonly code = 'UNEXPECTED_APPEND_OFFSET';
  readonly retriable = false;
  constructor(
    message: string,
    readonly expectedOffset: number,
    readonly firstOffset: number,
  ) {
    super(message);
  }
}

/** The log is closed, deleted, or failed on an I/O error; the partition must be reopened. */
export class LogUnavailableError extends StorageError {
  readonly code = 'KAFKA_STORAGE_ERROR';
  readonly retriable = true;
}

export interface ConfigIssue {
  /** The Kafka key, e.g. `segment.bytes`. */
  readonly key: string;
  readonly message: string;
}

/** parseLogConfig found bad fields; `issues` names every one. */
export class LogConfigError extends StorageError {
  readonly code = 'INVALID_CONFIG';
  readonly retriable = false;
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`invalid log config: ${issues.map((i) => `${i.key}: ${i.message}`).join('; ')}`);
  }
}
