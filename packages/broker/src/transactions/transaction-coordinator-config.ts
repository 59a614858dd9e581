// The transaction coordinator's readonly config. The user-facing keys are the node config's
// (transaction.*, transactional.id.*; node-config.ts parses them once, with Kafka's names and defaults);
// transactionCoordinatorConfig (component-configs.ts) derives this.

/** transaction.state.log.num.partitions: partitions of __transaction_state when it is created. */
export const DEFAULT_TRANSACTION_STATE_LOG_NUM_PARTITIONS = 50;
/** transaction.state.log.replication.factor (capped by the live brokers when the topic is created). */
export const DEFAULT_TRANSACTION_STATE_LOG_REPLICATION_FACTOR = 3;
/** transaction.state.log.min.isr: min.insync.replicas of __transaction_state (capped by its replication factor). */
export const DEFAULT_TRANSACTION_STATE_LOG_MIN_ISR = 2;
/** transaction.state.log.segment.bytes, bytes. */
export const DEFAULT_TRANSACTION_STATE_LOG_SEGMENT_BYTES = 104_857_600;
/** transaction.max.timeout.ms, milliseconds: a longer transaction.timeout.ms is INVALID_TRANSACTION_TIMEOUT. */
export const DEFAULT_TRANSACTION_MAX_TIMEOUT_MS = 900_000;
/** transactional.id.expiration.ms, milliseconds (7 days): an idle id is forgotten (a tombstone). */
export const DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS = 604_800_000;
/** transaction.abort.timed.out.transaction.cleanup.interval.ms, milliseconds. */
export const DEFAULT_TRANSACTION_ABORT_TIMED_OUT_CLEANUP_INTERVAL_MS = 10_000;
/** transaction.remove.expired.transaction.cleanup.interval.ms, milliseconds. */
export const DEFAULT_TRANSACTION_REMOVE_EXPIRED_CLEANUP_INTERVAL_MS = 3_600_000;
/**
 * How often the coordinator looks for `__transaction_state` partitions it started or stopped leading
 * (load / unload), milliseconds. Tributary's (Kafka reacts to LeaderAndIsr); not a user-facing key.
 */
export const DEFAULT_TXN_LEADERSHIP_CHECK_INTERVAL_MS = 100;
/** Marker retries back off from this, doubling up to the max, milliseconds. */
export const DEFAULT_TXN_MARKER_RETRY_BACKOFF_MS = 50;
export const DEFAULT_TXN_MARKER_RETRY_BACKOFF_MAX_MS = 2_000;
/** Requests waiting for one transactional id's previous operation; more are CONCURRENT_TRANSACTIONS. */
export const TXN_OPERATIONS_QUEUED_PER_ID_MAX = 8;

export interface TransactionCoordinatorConfig {
  readonly stateLogNumPartitions: number;
  readonly stateLogReplicationFactor: number;
  readonly stateLogMinIsr: number;
  /** Bytes. */
  readonly stateLogSegmentBytes: number;
  /** Milliseconds. */
  readonly maxTimeoutMs: number;
  readonly transactionalIdExpirationMs: number;
  readonly abortTimedOutIntervalMs: number;
  readonly removeExpiredIntervalMs: number;
  /** How long a state write waits for acks=all, milliseconds (request.timeout.ms). */
  readonly writeTimeoutMs: number;
  readonly leadershipCheckIntervalMs: number;
  readonly markerRetryBackoffMs: number;
  readonly markerRetryBackoffMaxMs: number;
}

export const DEFAULT_TRANSACTION_COORDINATOR_CONFIG: TransactionCoordinatorConfig = Object.freeze({
  stateLogNumPartitions: DEFAULT_TRANSACTION_STATE_LOG_NUM_PARTITIONS,
  stateLogReplicationFactor: DEFAULT_TRANSACTION_STATE_LOG_REPLICATION_FACTOR,
  stateLogMinIsr: DEFAULT_TRANSACTION_STATE_LOG_MIN_ISR,
  stateLogSegmentBytes: DEFAULT_TRANSACTION_STATE_LOG_SEGMENT_BYTES,
  maxTimeoutMs: DEFAULT_TRANSACTION_MAX_TIMEOUT_MS,
  transactionalIdExpirationMs: DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS,
  abortTimedOutIntervalMs: DEFAULT_TRANSACTION_ABORT_TIMED_OUT_CLEANUP_INTERVAL_MS,
  removeExpiredIntervalMs: DEFAULT_TRANSACTION_REMOVE_EXPIRED_CLEANUP_INTERVAL_MS,
  writeTimeoutMs: 30_000,
  leadershipCheckIntervalMs: DEFAULT_TXN_LEADERSHIP_CHECK_INTERVAL_MS,
  markerRetryBackoffMs: DEFAULT_TXN_MARKER_RETRY_BACKOFF_MS,
  markerRetryBackoffMaxMs: DEFAULT_TXN_MARKER_RETRY_BACKOFF_MAX_MS,
});
