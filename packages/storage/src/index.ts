// @tributary/storage: the segmented partition log. See docs/storage.md.
export { DEFAULT_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS, PartitionLog, READ_MAX_BYTES } from './partition-log.js';
export type {
  AppendInfo,
  IoStats,
  LogState,
  PartitionLogOptions,
  ReadOptions,
  ReadResult,
  RetentionResult,
  TimestampOffset,
} from './partition-log.js';
export type { CleanerStep, CleanResult, CompactOptions } from './log-compactor.js';
export {
  DEFAULT_LOG_CONFIG,
  LOG_CONFIG_KEYS,
  fsyncAlways,
  isFsyncAlways,
  logConfigFromProperties,
  parseLogConfig,
} from './log-config.js';
export type { CleanupPolicy, LogConfig, LogConfigKey } from './log-config.js';
export { CLEANUP_POLICIES, deletesByRetention, isCompacted } from './log-config.js';
export { DEFAULT_CLEANER_DEDUPE_BUFFER_BYTES } from './log-cleaner.js';
export type { AbortedTxn } from './txn-index.js';
export {
  CorruptRecordError,
  InvalidRecordError,
  LogConfigError,
  LogUnavailableError,
  OffsetOutOfRangeError,
  RecordTooLargeError,
  StorageError,
  UnexpectedAppendOffsetError,
} from './errors.js';
export type { ConfigIssue, StorageErrorCode } from './errors.js';
export { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from './leader-epoch-cache.js';
export type { EpochEndOffset, EpochEntry } from './leader-epoch-cache.js';
export type { Clock, Logger } from './logger.js';
export { fsyncDir, writeFileAtomic } from './checkpoint-file.js';
export { DIR_NAME_BYTES_MAX, isSetAsideDirName, setAsideDirPath, type SetAsideKind } from './set-aside-dir.js';
