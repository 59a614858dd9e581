// Error codes, their retriable semantics, and the typed errors thrown across Tributary.
//
// One table (ERRORS) decides, for every wire ErrorCode, its name and whether a client may retry it.
// Retriability follows Kafka's Java client (a code is retriable when its exception extends
// RetriableException there), so a Kafka user's intuition carries over. The client's retry module must
// decide from `retriable` only, never from ad-hoc lists of codes.
import {
  CorruptRecordError,
  InvalidArgumentError,
  InvalidRecordError,
  MessageTooLargeError,
  RecordFormatError,
  UnsupportedCompressionError,
} from '@tributary/record-format';
import { tributary } from './proto.js';

// The record format's errors (batch framing, records, codecs, bad arguments) are defined in the leaf
// package @tributary/record-format and re-exported here under their names; they count as TributaryErrors.
export { CorruptRecordError, InvalidArgumentError, InvalidRecordError, MessageTooLargeError, UnsupportedCompressionError };

export const ErrorCode = tributary.v1.ErrorCode;
export type ErrorCode = tributary.v1.ErrorCode;

export interface ErrorInfo {
  /** Kafka-style upper-case name, identical to the enum member's name. */
  readonly name: string;
  /** True when the same request may succeed if retried later (after a metadata refresh, a backoff...). */
  readonly retriable: boolean;
  readonly description: string;
}

function info(name: keyof typeof tributary.v1.ErrorCode, retriable: boolean, description: string): ErrorInfo {
  return { name, retriable, description };
}

/**
 * Every ErrorCode → {name, retriable, description}. Typed as a total Record over the enum, so adding a code
 * to common.proto without adding it here fails the build.
 */
export const ERRORS: Readonly<Record<ErrorCode, ErrorInfo>> = {
  [ErrorCode.NONE]: info('NONE', false, 'No error.'),
  [ErrorCode.UNKNOWN_SERVER_ERROR]: info('UNKNOWN_SERVER_ERROR', false, 'An unexpected error on the server.'),
  [ErrorCode.OFFSET_OUT_OF_RANGE]: info('OFFSET_OUT_OF_RANGE', false, 'The requested offset is outside the range kept for this partition.'),
  [ErrorCode.CORRUPT_MESSAGE]: info('CORRUPT_MESSAGE', true, 'A record batch failed its framing, magic or CRC checks, or its records are malformed.'),
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]: info('UNKNOWN_TOPIC_OR_PARTITION', true, 'This server does not host this topic-partition (it may not have learnt of it yet).'),
  [ErrorCode.INVALID_FETCH_SIZE]: info('INVALID_FETCH_SIZE', false, 'The requested fetch size is invalid.'),
  [ErrorCode.LEADER_NOT_AVAILABLE]: info('LEADER_NOT_AVAILABLE', true, 'The partition has no leader right now (an election is in progress).'),
  [ErrorCode.NOT_LEADER_OR_FOLLOWER]: info('NOT_LEADER_OR_FOLLOWER', true, 'This server is not the leader (or a follower) for the partition; refresh metadata.'),
  [ErrorCode.REQUEST_TIMED_OUT]: info('REQUEST_TIMED_OUT', true, 'The request did not complete within its timeout.'),
  [ErrorCode.BROKER_NOT_AVAILABLE]: info('BROKER_NOT_AVAILABLE', false, 'The broker is not available.'),
  [ErrorCode.REPLICA_NOT_AVAILABLE]: info('REPLICA_NOT_AVAILABLE', true, 'The replica is not available for the requested partition.'),
  [ErrorCode.MESSAGE_TOO_LARGE]: info('MESSAGE_TOO_LARGE', false, 'The record batch is larger than the maximum the server accepts (max.message.bytes).'),
  [ErrorCode.NETWORK_EXCEPTION]: info('NETWORK_EXCEPTION', true, 'The connection was lost before a response arrived.'),
  [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]: info('COORDINATOR_LOAD_IN_PROGRESS', true, 'The coordinator is still loading its state.'),
  [ErrorCode.COORDINATOR_NOT_AVAILABLE]: info('COORDINATOR_NOT_AVAILABLE', true, 'The coordinator is not available.'),
  [ErrorCode.NOT_COORDINATOR]: info('NOT_COORDINATOR', true, 'This server is not the coordinator for the group or transactional id.'),
  [ErrorCode.INVALID_TOPIC_EXCEPTION]: info('INVALID_TOPIC_EXCEPTION', false, 'The topic name is invalid or the topic may not be used this way.'),
  [ErrorCode.RECORD_LIST_TOO_LARGE]: info('RECORD_LIST_TOO_LARGE', false, 'The produce request is larger than the segment size.'),
  [ErrorCode.NOT_ENOUGH_REPLICAS]: info('NOT_ENOUGH_REPLICAS', true, 'Fewer in-sync replicas than min.insync.replicas; the write was rejected.'),
  [ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND]: info('NOT_ENOUGH_REPLICAS_AFTER_APPEND', true, 'The write was appended but fewer in-sync replicas than required acknowledged it.'),
  [ErrorCode.INVALID_REQUIRED_ACKS]: info('INVALID_REQUIRED_ACKS', false, 'acks must be 0, 1 or -1 (all).'),
  [ErrorCode.ILLEGAL_GENERATION]: info('ILLEGAL_GENERATION', false, 'The group generation id is not the current one.'),
  [ErrorCode.INCONSISTENT_GROUP_PROTOCOL]: info('INCONSISTENT_GROUP_PROTOCOL', false, 'The member protocol type or protocols are incompatible with the group.'),
  [ErrorCode.INVALID_GROUP_ID]: info('INVALID_GROUP_ID', false, 'The group id is invalid.'),
  [ErrorCode.UNKNOWN_MEMBER_ID]: info('UNKNOWN_MEMBER_ID', false, 'The member id is not known to the coordinator.'),
  [ErrorCode.INVALID_SESSION_TIMEOUT]: info('INVALID_SESSION_TIMEOUT', false, 'The session timeout is outside the range the broker allows.'),
  [ErrorCode.REBALANCE_IN_PROGRESS]: info('REBALANCE_IN_PROGRESS', false, 'The group is rebalancing; rejoin it.'),
  [ErrorCode.INVALID_COMMIT_OFFSET_SIZE]: info('INVALID_COMMIT_OFFSET_SIZE', false, 'The committed offset metadata is too large.'),
  [ErrorCode.INVALID_TIMESTAMP]: info('INVALID_TIMESTAMP', false, 'A record timestamp is outside the accepted range.'),
  [ErrorCode.TOPIC_ALREADY_EXISTS]: info('TOPIC_ALREADY_EXISTS', false, 'A topic with this name already exists.'),
  [ErrorCode.INVALID_PARTITIONS]: info('INVALID_PARTITIONS', false, 'The number of partitions is invalid.'),
  [ErrorCode.INVALID_REPLICATION_FACTOR]: info('INVALID_REPLICATION_FACTOR', false, 'The replication factor is invalid or larger than the number of brokers.'),
  [ErrorCode.INVALID_REPLICA_ASSIGNMENT]: info('INVALID_REPLICA_ASSIGNMENT', false, 'The replica assignment is invalid.'),
  [ErrorCode.INVALID_CONFIG]: info('INVALID_CONFIG', false, 'A configuration key or value is invalid.'),
  [ErrorCode.NOT_CONTROLLER]: info('NOT_CONTROLLER', true, 'This node is not the active controller.'),
  [ErrorCode.INVALID_REQUEST]: info('INVALID_REQUEST', false, 'The request is malformed or not valid in this context.'),
  [ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT]: info('UNSUPPORTED_FOR_MESSAGE_FORMAT', false, 'The record batch uses a feature this format does not support (e.g. an unsupported compression codec).'),
  [ErrorCode.POLICY_VIOLATION]: info('POLICY_VIOLATION', false, 'The request violates a configured policy.'),
  [ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER]: info('OUT_OF_ORDER_SEQUENCE_NUMBER', false, 'The producer sequence number is not the next one expected.'),
  [ErrorCode.DUPLICATE_SEQUENCE_NUMBER]: info('DUPLICATE_SEQUENCE_NUMBER', false, 'The producer sent a duplicate sequence number.'),
  [ErrorCode.INVALID_PRODUCER_EPOCH]: info('INVALID_PRODUCER_EPOCH', false, 'The producer epoch is older than the current one (the producer was fenced).'),
  [ErrorCode.INVALID_TXN_STATE]: info('INVALID_TXN_STATE', false, 'The operation is not valid in the current transaction state.'),
  [ErrorCode.INVALID_PRODUCER_ID_MAPPING]: info('INVALID_PRODUCER_ID_MAPPING', false, 'The producer id does not match the transactional id.'),
  [ErrorCode.INVALID_TRANSACTION_TIMEOUT]: info('INVALID_TRANSACTION_TIMEOUT', false, 'The transaction timeout is larger than transaction.max.timeout.ms (or not positive).'),
  [ErrorCode.CONCURRENT_TRANSACTIONS]: info('CONCURRENT_TRANSACTIONS', true, 'The previous transaction of this transactional id is still being completed; retry.'),
  [ErrorCode.TRANSACTION_COORDINATOR_FENCED]: info('TRANSACTION_COORDINATOR_FENCED', false, 'A newer transaction coordinator has taken over this producer.'),
  [ErrorCode.KAFKA_STORAGE_ERROR]: info('KAFKA_STORAGE_ERROR', true, 'A disk error on the server while accessing the log.'),
  [ErrorCode.UNKNOWN_PRODUCER_ID]: info('UNKNOWN_PRODUCER_ID', false, 'The producer id was not allocated by the cluster (as far as this broker\'s metadata knows).'),
  [ErrorCode.NON_EMPTY_GROUP]: info('NON_EMPTY_GROUP', false, 'The group is not empty (it has members).'),
  [ErrorCode.GROUP_ID_NOT_FOUND]: info('GROUP_ID_NOT_FOUND', false, 'The group does not exist.'),
  [ErrorCode.FENCED_LEADER_EPOCH]: info('FENCED_LEADER_EPOCH', true, 'The leader epoch in the request is older than the broker\'s; refresh metadata.'),
  [ErrorCode.UNKNOWN_LEADER_EPOCH]: info('UNKNOWN_LEADER_EPOCH', true, 'The leader epoch in the request is newer than the broker\'s.'),
  [ErrorCode.OFFSET_NOT_AVAILABLE]: info('OFFSET_NOT_AVAILABLE', true, 'The leader\'s high watermark has not caught up yet after an election.'),
  [ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE]: info('PREFERRED_LEADER_NOT_AVAILABLE', true, 'The preferred leader is not available.'),
  [ErrorCode.GROUP_MAX_SIZE_REACHED]: info('GROUP_MAX_SIZE_REACHED', false, 'The group has reached its maximum size.'),
  [ErrorCode.FENCED_INSTANCE_ID]: info('FENCED_INSTANCE_ID', false, 'Another member with the same group.instance.id joined the group.'),
  [ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE]: info('ELIGIBLE_LEADERS_NOT_AVAILABLE', true, 'No eligible replica can be elected leader right now.'),
  [ErrorCode.ELECTION_NOT_NEEDED]: info('ELECTION_NOT_NEEDED', false, 'The leader election is not needed.'),
  [ErrorCode.INVALID_RECORD]: info('INVALID_RECORD', false, 'A record failed the broker\'s validation.'),
  [ErrorCode.UNSTABLE_OFFSET_COMMIT]: info('UNSTABLE_OFFSET_COMMIT', true, 'There are pending transactional offset commits for the partition.'),
  [ErrorCode.THROTTLING_QUOTA_EXCEEDED]: info('THROTTLING_QUOTA_EXCEEDED', true, 'A quota is exhausted for now (e.g. the partition\'s table of producer ids is full); retry later.'),
  [ErrorCode.PRODUCER_FENCED]: info('PRODUCER_FENCED', false, 'A newer producer with the same transactional.id has fenced this one.'),
  [ErrorCode.INCONSISTENT_CLUSTER_ID]: info('INCONSISTENT_CLUSTER_ID', false, 'The cluster id in the request does not match this cluster.'),
  [ErrorCode.TRANSACTIONAL_ID_NOT_FOUND]: info('TRANSACTIONAL_ID_NOT_FOUND', false, 'The transactional id is not known to its coordinator.'),
  [ErrorCode.TRANSACTION_ABORTABLE]: info('TRANSACTION_ABORTABLE', false, 'The transaction failed; abort it and start a new one (the producer stays usable).'),
  [ErrorCode.INVALID_ARGUMENT]: info('INVALID_ARGUMENT', false, 'A request field is malformed; the message names the field.'),
};

function lookup(code: number): ErrorInfo | undefined {
  return Object.prototype.hasOwnProperty.call(ERRORS, code) ? ERRORS[code as ErrorCode] : undefined;
}

/** The Kafka-style name of a code; `UNKNOWN_ERROR_CODE(n)` for a code this build does not know. */
export function errorName(code: number): string {
  return lookup(code)?.name ?? `UNKNOWN_ERROR_CODE(${code})`;
}

/** Whether a client may retry a request that failed with `code`. Unknown codes are not retriable. */
export function isRetriable(code: number): boolean {
  return lookup(code)?.retriable ?? false;
}

/**
 * Base class of every expected failure: carries a wire `code` and whether it is `retriable`.
 * Programming errors and broken invariants are AssertionErrors instead and are never sent as codes.
 */
export class TributaryError extends Error {
  override name = 'TributaryError';
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retriable = isRetriable(code);
  }

  /**
   * The record format's errors are TributaryErrors too (same `code` and `retriable` contract; the errors
   * test pins their codes to the enum), but their package cannot extend this class: it depends on nothing
   * of ours. So `instanceof TributaryError` accepts them explicitly. Subclasses keep the ordinary check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === TributaryError && value instanceof RecordFormatError;
  }

  /** The most specific error class for `code` (CORRUPT_MESSAGE → CorruptRecordError, ...). */
  static from(code: ErrorCode, message: string): TributaryError {
    return TributaryError.specific(code, message) as TributaryError;
  }

  private static specific(code: ErrorCode, message: string): TributaryError | RecordFormatError {
    switch (code) {
      case ErrorCode.CORRUPT_MESSAGE:
        return new CorruptRecordError(message);
      case ErrorCode.MESSAGE_TOO_LARGE:
        return new MessageTooLargeError(message);
      case ErrorCode.INVALID_RECORD:
        return new InvalidRecordError(message);
      case ErrorCode.INVALID_ARGUMENT: {
        // InvalidArgumentError messages travel as "field: detail" (see its constructor).
        const match = /^([^\s:]+): ([\s\S]*)$/.exec(message);
        return match ? new InvalidArgumentError(match[1]!, match[2]!) : new InvalidArgumentError('', message);
      }
      default:
        return new TributaryError(code, message);
    }
  }
}

/** Wire form of any thrown value: TributaryErrors keep their code, anything else is UNKNOWN_SERVER_ERROR. */
export function toWireError(err: unknown): tributary.v1.Error {
  if (err instanceof TributaryError) return tributary.v1.Error.create({ code: err.code, message: err.message });
  const message = err instanceof Error ? err.message : String(err);
  return tributary.v1.Error.create({ code: ErrorCode.UNKNOWN_SERVER_ERROR, message });
}

/** The typed error a response carries, or null when it carries none (absent or code NONE). */
export function fromWireError(wire: tributary.v1.Error.$Properties | null | undefined): TributaryError | null {
  const code = wire?.code ?? ErrorCode.NONE;
  if (code === ErrorCode.NONE) return null;
  return TributaryError.from(code, wire?.message ?? errorName(code));
}
