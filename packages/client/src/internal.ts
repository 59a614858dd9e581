// Internals for tests (the `@tributary/client/internal` subpath). Not a stable API.
export * from './index.js';
export { RecordAccumulator, ProducerBatch, type PendingRecord, type PartitionQueue } from './accumulator.js';
export { BufferPool } from './buffer-pool.js';
export { Cluster, MetadataCache, formatAddress } from './cluster.js';
export { encodeProducerBatch, decodeFetchedBatches } from './codec.js';
export { errorFromWire, needsMetadataRefresh } from './errors.js';
export { StickyPartitionCache, choosePartition, type RandomInt } from './partitioner.js';
export { BATCH_OVERHEAD_BYTES, RECORD_OVERHEAD_MAX_BYTES, recordSizeUpperBoundBytes } from './record-size.js';
export { backoffMs, decideRetry, withRetries, BACKOFF_JITTER, type RetryDecision, type RetryPolicy } from './retry.js';
export { retriesOnNewLeader, type BackingOffRetry, type LeaderView } from './leader-change.js';
export { SubscriptionState } from './consumer.js';
export { AbortedTransactionFilter, controlTypeOf, type AbortedTransaction, type ControlType } from './aborted-transactions.js';
export { checkTransactionTransition, classifyTxnError, wireCodeOf, type TxnErrorSource } from './transaction-manager.js';
