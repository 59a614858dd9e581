// Public API of @tributary/client: Producer, Consumer, Admin, their options (Kafka property names),
// defaults, result types and typed errors.
export { Producer, type ProducerRecord, type SendCallback, type HeaderValue, type IdempotenceState, type Transaction } from './producer.js';
export { TRANSACTION_TRANSITIONS, type TransactionState, type TopicPartitionOffset } from './transaction-manager.js';
export type { RecordMetadata } from './accumulator.js';
export {
  Consumer, DEFAULT_POLL_TIMEOUT_MS, type ConsumerRecord, type TopicPartition, type TimestampType, type OffsetAndTimestamp,
} from './consumer.js';
export {
  Admin, type NewTopic, type CreatedTopic, type TopicListing, type TopicDescription, type PartitionDescription,
  type ConfigEntry, type ConfigResource, type ConfigResourceType, type ResourceConfigs, type AlterConfigsEntry, type ClusterDescription,
} from './admin.js';
export type { OffsetSpec, ListOffsetsRequest, ListedOffset } from './list-offsets.js';
export type {
  TransactionListing, ListTransactionsFilters, TransactionDescription, ProducerStateDescription, PartitionProducers, AbortTransactionSpec, TransactionStateName,
} from './transaction-admin.js';
export type { RebalanceListener, OffsetAndMetadata, GroupTopicPartition, ConsumerGroupMetadata } from './consumer-group.js';
export { GroupAdmin, type GroupListing, type GroupDescription, type GroupMemberDescription, type GroupOffset } from './group-admin.js';
export type { Partitioner } from './partitioner.js';
export { murmur2, murmur2Partition, toPositive } from './murmur2.js';
export type { Logger, ClientRuntimeOptions } from './logger.js';
export {
  type ProducerOptions, type ConsumerOptions, type AdminOptions, type CommonOptions,
  type ProducerConfig, type ConsumerConfig, type AdminConfig,
  type CompressionType, type Acks, type AutoOffsetReset, type IsolationLevel,
  parseProducerConfig, parseConsumerConfig, parseAdminConfig,
  DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_CLIENT_ID, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_RETRY_BACKOFF_MS, DEFAULT_RETRY_BACKOFF_MAX_MS,
  DEFAULT_METADATA_MAX_AGE_MS, DEFAULT_API_TIMEOUT_MS, DEFAULT_ACKS, DEFAULT_BATCH_SIZE_BYTES, DEFAULT_LINGER_MS,
  DEFAULT_COMPRESSION_TYPE, DEFAULT_RETRIES, DEFAULT_DELIVERY_TIMEOUT_MS, DEFAULT_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION,
  DEFAULT_BUFFER_MEMORY_BYTES, DEFAULT_MAX_BLOCK_MS, DEFAULT_MAX_REQUEST_SIZE_BYTES, DEFAULT_ENABLE_IDEMPOTENCE, DEFAULT_TRANSACTION_TIMEOUT_MS,
  DEFAULT_FETCH_MIN_BYTES, DEFAULT_FETCH_MAX_WAIT_MS, DEFAULT_FETCH_MAX_BYTES, DEFAULT_MAX_PARTITION_FETCH_BYTES,
  DEFAULT_MAX_POLL_RECORDS, DEFAULT_AUTO_OFFSET_RESET, DEFAULT_ISOLATION_LEVEL,
} from './config.js';
export {
  TributaryClientError, ConfigError, type ConfigIssue, BrokerError, UnknownTopicOrPartitionError, MessageTooLargeError,
  DeliveryTimeoutError, MaxBlockTimeoutError, RequestTimeoutError, ConnectionError, ConcurrentPollError,
  OffsetOutOfRangeError, NoOffsetForPartitionError, LogTruncationError, ProducerFencedError, OutOfOrderSequenceError,
  InvalidTxnStateError, TransactionAbortableError, TransactionAbortedError, ClientClosedError,
  IllegalStateError, UnsupportedOperationError, RpcError, LeaderNotAvailableError, AdminBatchError, CorruptRecordError, InvalidRecordError,
} from './errors.js';
