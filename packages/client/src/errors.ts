// Typed client errors: one class per failure, each with a `code` (Kafka's error name where one exists,
// a client-side name otherwise), `retriable` and the underlying `cause`. Wire error codes are mapped in
// exactly one place (`errorFromWire`), and whether one is retriable comes from the protocol's error table.
import { errorName, isRetriable } from './wire-errors.js';

export interface ClientErrorOptions {
  readonly code: string;
  readonly retriable?: boolean;
  readonly cause?: unknown;
}

/** Base class of every error this package throws or rejects with. */
export class TributaryClientError extends Error {
  /** Kafka's error name (`NOT_LEADER_OR_FOLLOWER`) or a client-side name (`CONCURRENT_POLL`). */
  readonly code: string;
  readonly retriable: boolean;

  constructor(message: string, options: ClientErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.retriable = options.retriable ?? false;
  }
}

export interface ConfigIssue {
  readonly field: string;
  readonly message: string;
}

/** Invalid client options; `issues` names every bad field and broken cross-field rule. */
export class ConfigError extends TributaryClientError {
  readonly issues: readonly ConfigIssue[];
  constructor(kind: string, issues: readonly ConfigIssue[]) {
    super(`invalid ${kind} config: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`,
      { code: 'INVALID_CONFIG' });
    this.issues = issues;
  }
}

/** An error code returned by a broker that has no more specific class below. */
export class BrokerError extends TributaryClientError {
  /** Numeric wire code (tributary.v1.ErrorCode). */
  readonly errorCode: number;
  readonly brokerMessage: string;
  constructor(errorCode: number, brokerMessage: string, context?: string) {
    const name = errorName(errorCode);
    super(`${context === undefined ? '' : `${context}: `}${name}${brokerMessage === '' ? '' : `: ${brokerMessage}`}`,
      { code: name, retriable: isRetriable(errorCode) });
    this.errorCode = errorCode;
    this.brokerMessage = brokerMessage;
  }
}

export class UnknownTopicOrPartitionError extends TributaryClientError {
  readonly topic: string;
  readonly partition: number | undefined;
  constructor(topic: string, partition?: number, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(`unknown topic or partition: ${topic}${partition === undefined ? '' : `-${partition}`}`,
      { code: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: options.retriable ?? false, cause: options.cause });
    this.topic = topic;
    this.partition = partition;
  }
}

/** A record (or request) larger than `max.request.size`, `buffer.memory` or the broker's `max.message.bytes`. */
export class MessageTooLargeError extends TributaryClientError {
  readonly sizeBytes: number;
  readonly limitBytes: number;
  constructor(message: string, sizeBytes: number, limitBytes: number, cause?: unknown) {
    super(message, { code: 'MESSAGE_TOO_LARGE', cause });
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

/** A record was not acknowledged within `delivery.timeout.ms`; `cause` is the last error seen, if any. */
export class DeliveryTimeoutError extends TributaryClientError {
  constructor(topic: string, partition: number, deliveryTimeoutMs: number, cause?: unknown) {
    super(`record for ${topic}-${partition} not acknowledged within delivery.timeout.ms=${deliveryTimeoutMs}`,
      { code: 'DELIVERY_TIMEOUT', cause });
  }
}

/** `send` waited `max.block.ms` for metadata or for `buffer.memory` to free up. */
export class MaxBlockTimeoutError extends TributaryClientError {
  constructor(what: string, maxBlockMs: number, cause?: unknown) {
    super(`${what} not available within max.block.ms=${maxBlockMs}`, { code: 'MAX_BLOCK_TIMEOUT', cause });
  }
}

/** A request exceeded `request.timeout.ms` (or the broker answered REQUEST_TIMED_OUT). Retriable. */
export class RequestTimeoutError extends TributaryClientError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'REQUEST_TIMED_OUT', retriable: true, cause });
  }
}

/** The broker could not be reached or the connection broke. Retriable. */
export class ConnectionError extends TributaryClientError {
  readonly address: string;
  constructor(address: string, cause?: unknown) {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    super(`connection to ${address} failed${detail}`, { code: 'NETWORK_EXCEPTION', retriable: true, cause });
    this.address = address;
  }
}

/** `poll()` was called while an earlier `poll()` on the same consumer had not settled. */
export class ConcurrentPollError extends TributaryClientError {
  constructor() {
    super('poll() called while another poll() on this consumer is pending; a consumer is not safe for ' +
      'concurrent polls — await the previous poll (or use one consumer per loop)', { code: 'CONCURRENT_POLL' });
  }
}

/** The fetch position is outside the log and `auto.offset.reset=none`. */
export class OffsetOutOfRangeError extends TributaryClientError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  constructor(topic: string, partition: number, offset: number, cause?: unknown) {
    super(`offset ${offset} out of range for ${topic}-${partition} (auto.offset.reset=none)`,
      { code: 'OFFSET_OUT_OF_RANGE', cause });
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
  }
}

/**
 * The leader's log diverged from what this consumer already read (KIP-320): records at or after
 * `divergingEndOffset` that the consumer saw were truncated. Thrown when `auto.offset.reset=none`.
 */
export class LogTruncationError extends TributaryClientError {
  readonly topic: string;
  readonly partition: number;
  readonly position: number;
  readonly divergingEpoch: number;
  readonly divergingEndOffset: number;
  constructor(args: { topic: string; partition: number; position: number; divergingEpoch: number; divergingEndOffset: number }) {
    super(`log truncation detected on ${args.topic}-${args.partition}: position ${args.position} is past the end ` +
      `offset ${args.divergingEndOffset} of leader epoch ${args.divergingEpoch}`, { code: 'LOG_TRUNCATION' });
    this.topic = args.topic;
    this.partition = args.partition;
    this.position = args.position;
    this.divergingEpoch = args.divergingEpoch;
    this.divergingEndOffset = args.divergingEndOffset;
  }
}

/** Another producer with the same id has a newer epoch; this producer can no longer write. Fatal. */
export class ProducerFencedError extends TributaryClientError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'PRODUCER_FENCED', cause });
  }
}

/**
 * A transactional API was used in a state that does not allow it (`send` outside a transaction,
 * `commitTransaction` before `beginTransaction`...), or the coordinator answered INVALID_TXN_STATE.
 */
export class InvalidTxnStateError extends TributaryClientError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'INVALID_TXN_STATE', cause });
  }
}

/**
 * The current transaction failed and can only be aborted (`cause` says why: a batch that was not
 * written, an offset commit the group refused...): call `abortTransaction()`, after which the producer
 * is usable again. Kafka's "abortable error".
 */
export class TransactionAbortableError extends TributaryClientError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'TRANSACTION_ABORTABLE', cause });
  }
}

/** A record of a transaction that was aborted before the record was sent; `cause` is why it was aborted, if known. */
export class TransactionAbortedError extends TributaryClientError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'TRANSACTION_ABORTED', cause });
  }
}

/**
 * The broker refused an idempotent batch as out of order although every earlier batch of its partition
 * was acknowledged: the broker lost sequence state the producer relied on (e.g. an unclean leader
 * election truncated acknowledged batches). Not retriable; the producer starts a new producer id so
 * later sends go on.
 */
export class OutOfOrderSequenceError extends TributaryClientError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'OUT_OF_ORDER_SEQUENCE_NUMBER', cause });
  }
}

/** The client was closed; pending and new operations fail with this. */
export class ClientClosedError extends TributaryClientError {
  constructor(what: string) {
    super(`${what} is closed`, { code: 'CLIENT_CLOSED' });
  }
}

/** An API was used in a state that does not allow it (e.g. `seek` on an unassigned partition). */
export class IllegalStateError extends TributaryClientError {
  constructor(message: string) {
    super(message, { code: 'ILLEGAL_STATE' });
  }
}

/** Maps a wire error (code + message) to the most specific client error. `code` must not be NONE. */
export function errorFromWire(code: number, message: string, where: { topic?: string; partition?: number; context?: string } = {}): TributaryClientError {
  const name = errorName(code);
  const retriable = isRetriable(code);
  switch (name) {
    case 'UNKNOWN_TOPIC_OR_PARTITION':
      return new UnknownTopicOrPartitionError(where.topic ?? '(unknown)', where.partition, {
        retriable, cause: new BrokerError(code, message, where.context),
      });
    case 'MESSAGE_TOO_LARGE':
    case 'RECORD_LIST_TOO_LARGE':
      return new MessageTooLargeError(`broker rejected ${where.topic ?? ''}${where.partition === undefined ? '' : `-${where.partition}`} as too large: ${message}`,
        -1, -1, new BrokerError(code, message, where.context));
    case 'REQUEST_TIMED_OUT':
      return new RequestTimeoutError(`broker timed out the request: ${message}`, new BrokerError(code, message, where.context));
    case 'PRODUCER_FENCED':
    case 'INVALID_PRODUCER_EPOCH':
      return new ProducerFencedError(`producer fenced: ${message}`, new BrokerError(code, message, where.context));
    case 'INVALID_TXN_STATE':
      return new InvalidTxnStateError(`${where.context === undefined ? '' : `${where.context}: `}invalid transaction state: ${message}`, new BrokerError(code, message, where.context));
    case 'TRANSACTION_ABORTABLE':
      return new TransactionAbortableError(`${where.context === undefined ? '' : `${where.context}: `}the transaction must be aborted: ${message}`, new BrokerError(code, message, where.context));
    default:
      return new BrokerError(code, message, where.context);
  }
}

/** Codes after which the client's view of leadership is stale: refresh metadata before retrying. */
const METADATA_REFRESH_CODES = new Set([
  'NOT_LEADER_OR_FOLLOWER', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH', 'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE', 'BROKER_NOT_AVAILABLE', 'REPLICA_NOT_AVAILABLE', 'NETWORK_EXCEPTION', 'KAFKA_STORAGE_ERROR',
]);

export function needsMetadataRefresh(error: unknown): boolean {
  if (error instanceof ConnectionError) return true;
  if (!(error instanceof TributaryClientError)) return false;
  const code = error instanceof BrokerError ? error.code
    : error.cause instanceof BrokerError ? error.cause.code : error.code;
  return METADATA_REFRESH_CODES.has(code);
}

/** The broker does not implement this RPC (gRPC UNIMPLEMENTED), e.g. an older broker. */
export class UnsupportedOperationError extends TributaryClientError {
  constructor(operation: string, cause?: unknown) {
    super(`${operation} is not supported by the broker`, { code: 'UNSUPPORTED_VERSION', cause });
  }
}

/** A gRPC-level failure with no more specific meaning; `grpcCode` is the gRPC status. */
export class RpcError extends TributaryClientError {
  readonly grpcCode: number;
  constructor(message: string, grpcCode: number, retriable: boolean, cause?: unknown) {
    super(message, { code: `GRPC_${grpcCode}`, retriable, cause });
    this.grpcCode = grpcCode;
  }
}

/** The partition has no leader the client can reach right now. Retriable (after a metadata refresh). */
export class LeaderNotAvailableError extends TributaryClientError {
  constructor(topic: string, partition: number) {
    super(`no leader known for ${topic}-${partition}`, { code: 'LEADER_NOT_AVAILABLE', retriable: true });
  }
}

/** Several items of one admin call failed; `errors` has each item's typed error. */
export class AdminBatchError extends TributaryClientError {
  readonly errors: readonly { readonly name: string; readonly error: TributaryClientError }[];
  constructor(operation: string, errors: readonly { readonly name: string; readonly error: TributaryClientError }[]) {
    super(`${operation} failed for ${errors.length} items: ${errors.map((e) => `${e.name}: ${e.error.message}`).join('; ')}`,
      { code: errors[0]?.error.code ?? 'UNKNOWN', retriable: errors.every((e) => e.error.retriable), cause: errors[0]?.error });
    this.errors = errors;
  }
}

/** A partition has no position and `auto.offset.reset=none`: seek before polling. */
export class NoOffsetForPartitionError extends TributaryClientError {
  constructor(topic: string, partition: number) {
    super(`no position for ${topic}-${partition} and auto.offset.reset=none (call seek first)`, { code: 'NO_OFFSET_FOR_PARTITION' });
  }
}

/** Fetched bytes failed the record-batch checks (CRC, framing); `cause` is the protocol's error. */
export class CorruptRecordError extends TributaryClientError {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: number;
  constructor(topic: string, partition: number, fetchOffset: number, cause: unknown) {
    super(`corrupt record batch fetched from ${topic}-${partition} at offset ${fetchOffset}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { code: 'CORRUPT_MESSAGE', cause });
    this.topic = topic;
    this.partition = partition;
    this.fetchOffset = fetchOffset;
  }
}

/** A record passed to `send` is malformed (missing topic, a key/value that is not a Buffer or string...). */
export class InvalidRecordError extends TributaryClientError {
  constructor(message: string) {
    super(message, { code: 'INVALID_RECORD' });
  }
}
