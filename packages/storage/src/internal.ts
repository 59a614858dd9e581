// Internals for tests and benchmarks in this repo; not a stable API.
export * from './index.js';
export * from './batch-header.js';
export { LeaderEpochCache } from './leader-epoch-cache.js';
export { OffsetIndex, OFFSET_INDEX_ENTRY_BYTES } from './offset-index.js';
export { TimeIndex, TIME_INDEX_ENTRY_BYTES } from './time-index.js';
export { LogSegment, MAX_RELATIVE_OFFSET, segmentFileName, LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX } from './log-segment.js';
export {
  CLEAN_SHUTDOWN_FILE,
  HIGH_WATERMARK_CHECKPOINT_FILE,
  LEADER_EPOCH_CHECKPOINT_FILE,
  LOG_START_OFFSET_CHECKPOINT_FILE,
  RECOVERY_POINT_CHECKPOINT_FILE,
} from './log-loader.js';
export { NOOP_LOGGER } from './logger.js';
export { planCleaning, OffsetMap, cleanBatch, OFFSET_MAP_ENTRY_OVERHEAD_BYTES, AbortedRanges, TxnCleanState } from './log-cleaner.js';
export { TxnIndex, parseTxnIndex, checkAbortedTxn, TXN_INDEX_ENTRY_BYTES, TXN_INDEX_SUFFIX, TXN_INDEX_VERSION } from './txn-index.js';
export type { TxnIndexParse } from './txn-index.js';
export { txnIndexMaxEntries } from './log-segment.js';
export type { CleaningPlan, SegmentSummary } from './log-cleaner.js';
export { readBatchRecords, rebuildBatch, CONTROL_FLAG } from './record-reader.js';
export { CLEANER_CHECKPOINT_FILE, parseCleanerCheckpoint } from './checkpoint-file.js';
export { CLEANED_SUFFIX, SWAP_SUFFIX, DELETED_SUFFIX } from './cleaned-segment.js';
