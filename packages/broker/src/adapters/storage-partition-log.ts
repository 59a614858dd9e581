// Adapts packages/storage's PartitionLog to the broker's PartitionLogPort. The port's append and read
// results are a subset of storage's (same names); lookups map storage's null to undefined.
import { PartitionLog, parseLogConfig, type LogConfig } from '@tributary/storage';
import type { BatchHeader } from '@tributary/protocol';
import type { Logger } from 'pino';
import type { AbortedTxn, EpochEndOffset, LogAppendInfo, LogFactory, LogReadResult, PartitionLogPort, TimestampLookup } from '../partition-log.js';
import type { TopicConfig } from '../topic-config.js';

/**
 * The storage view of a topic config: every key storage acts on (each field of LogConfig). The others
 * are the broker's (min.insync.replicas, message.timestamp.type, compression.type) or the controller's
 * (unclean.leader.election.enable).
 */
export function toLogConfig(config: TopicConfig): LogConfig {
  const fields: { readonly [F in keyof LogConfig]-?: unknown } = {
    segmentBytes: config.segmentBytes,
    segmentMs: config.segmentMs,
    indexIntervalBytes: config.indexIntervalBytes,
    segmentIndexBytes: config.segmentIndexBytes,
    retentionBytes: config.retentionBytes,
    retentionMs: config.retentionMs,
    flushMessages: config.flushMessages,
    flushMs: config.flushMs,
    maxMessageBytes: config.maxMessageBytes,
    cleanupPolicy: config.cleanupPolicy,
    deleteRetentionMs: config.deleteRetentionMs,
    minCleanableDirtyRatio: config.minCleanableDirtyRatio,
    minCompactionLagMs: config.minCompactionLagMs,
    // Overrides are checked against the validating node's defaults; a node whose own default makes
    // min > max still opens the log: min.compaction.lag.ms wins, as it does in the cleaner's plan.
    maxCompactionLagMs: Math.max(config.maxCompactionLagMs, config.minCompactionLagMs),
  };
  return parseLogConfig(fields);
}

class StoragePartitionLog implements PartitionLogPort {
  constructor(
    private readonly log: PartitionLog,
    private readonly logger: Logger,
  ) {}

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  get highWatermark(): number {
    return this.log.highWatermark;
  }

  async appendAsLeader(batches: Buffer, headers: readonly BatchHeader[], leaderEpoch: number, options: { readonly logAppendTimeMs?: number }): Promise<LogAppendInfo> {
    return this.log.appendAsLeader(batches, leaderEpoch, options.logAppendTimeMs === undefined ? { headers } : { headers, logAppendTimeMs: options.logAppendTimeMs });
  }

  get latestEpoch(): number {
    return this.log.latestEpoch;
  }

  async appendAsFollower(batches: Buffer): Promise<LogAppendInfo> {
    return this.log.appendAsFollower(batches);
  }

  async truncateTo(offset: number): Promise<void> {
    await this.log.truncateTo(offset);
  }

  async assignLeaderEpoch(leaderEpoch: number): Promise<void> {
    await this.log.assignLeaderEpoch(leaderEpoch);
  }

  async truncateFullyAndStartAt(offset: number): Promise<void> {
    await this.log.truncateFullyAndStartAt(offset);
  }

  async read(fetchOffset: number, maxBytes: number, options: { readonly maxOffset: number; readonly minOneBatch: boolean }): Promise<LogReadResult> {
    return this.log.read(fetchOffset, maxBytes, options);
  }

  async offsetForTimestamp(timestampMs: number): Promise<TimestampLookup | undefined> {
    const found = await this.log.offsetForTimestamp(timestampMs);
    return found === null ? undefined : { batchBaseOffset: found.offset };
  }

  maxTimestamp(): (TimestampLookup & { readonly timestampMs: number }) | undefined {
    const found = this.log.maxTimestampAndOffset();
    return found === null ? undefined : { batchBaseOffset: found.offset, timestampMs: found.timestamp };
  }

  endOffsetForEpoch(epoch: number): EpochEndOffset | undefined {
    return this.log.endOffsetForEpoch(epoch);
  }

  updateHighWatermark(highWatermark: number): void {
    this.log.updateHighWatermark(highWatermark);
  }

  updateConfig(config: TopicConfig): void {
    this.log.updateConfig(toLogConfig(config));
  }

  async applyRetention(nowMs: number): Promise<void> {
    const result = await this.log.applyRetention(nowMs);
    if (result.deletedSegments > 0) this.logger.info({ deletedSegments: result.deletedSegments, logStartOffset: result.logStartOffset }, 'retention deleted segments');
  }

  get txnIndexIncompleteFrom(): number | null {
    return this.log.txnIndexIncompleteFrom;
  }

  async appendAbortedTxn(txn: AbortedTxn): Promise<void> {
    await this.log.appendAbortedTxn(txn);
  }

  async abortedTransactions(fetchOffset: number, upperBoundOffset: number): Promise<readonly AbortedTxn[]> {
    return this.log.abortedTransactions(fetchOffset, upperBoundOffset);
  }

  async compact(nowMs: number, options: { readonly lastStableOffset: number }): Promise<void> {
    const result = await this.log.compact(nowMs, { lastStableOffset: options.lastStableOffset });
    if (result.outcome === 'cleaned') this.logger.info({ segmentsRewritten: result.segmentsRewritten, bytesBefore: result.bytesBefore, bytesAfter: result.bytesAfter }, 'log cleaned');
  }

  async flush(): Promise<void> {
    await this.log.flush();
  }

  async close(): Promise<void> {
    await this.log.close();
  }

  async delete(): Promise<void> {
    await this.log.delete();
  }
}

/** Opens storage logs; `nowMs` drives segment.ms, flush.ms and LogAppendTime. */
export function storageLogFactory(args: { readonly logger: Logger; readonly nowMs: () => number }): LogFactory {
  return async ({ dir, topic, partition, config, onFailure }) => {
    const logger = args.logger.child({ topic, partition });
    const log = await PartitionLog.open({ dir, config: toLogConfig(config), clock: args.nowMs, logger, ...(onFailure === undefined ? {} : { onFailure }) });
    return new StoragePartitionLog(log, logger);
  };
}
