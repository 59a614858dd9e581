// Adapts packages/storage's PartitionLog to the broker's PartitionLogPort.
import { PartitionLog, parseLogConfig, type LogConfig } from '@tributary/storage';
import type { Logger } from 'pino';
import type { EpochEndOffset, LogAppendInfo, LogFactory, LogReadResult, PartitionLogPort, TimestampLookup } from '../partition-log.js';
import type { TopicConfig } from '../topic-config.js';

/** The storage view of a topic config (only the keys storage acts on). */
export function toLogConfig(config: TopicConfig): LogConfig {
  return parseLogConfig({
    segmentBytes: config.segmentBytes,
    segmentMs: config.segmentMs,
    retentionBytes: config.retentionBytes,
    retentionMs: config.retentionMs,
    flushMessages: config.flushMessages,
    flushMs: config.flushMs,
    maxMessageBytes: config.maxMessageBytes,
  });
}

/** A live-reconfigurable log, if storage offers it (it may not yet). */
interface Reconfigurable {
  updateConfig(config: LogConfig): void;
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

  async appendAsLeader(batches: Buffer, leaderEpoch: number, options: { readonly logAppendTimeMs?: number }): Promise<LogAppendInfo> {
    const info = await this.log.appendAsLeader(batches, leaderEpoch, options.logAppendTimeMs === undefined ? {} : { logAppendTimeMs: options.logAppendTimeMs });
    return { baseOffset: info.firstOffset, lastOffset: info.lastOffset, logAppendTimeMs: info.logAppendTimeMs };
  }

  async read(fetchOffset: number, maxBytes: number, options: { readonly maxOffset: number; readonly minOneBatch: boolean }): Promise<LogReadResult> {
    const result = await this.log.read(fetchOffset, maxBytes, options);
    return { bytes: result.records };
  }

  async offsetForTimestamp(timestampMs: number): Promise<TimestampLookup | undefined> {
    const found = await this.log.offsetForTimestamp(timestampMs);
    return found === null ? undefined : { batchBaseOffset: found.offset };
  }

  endOffsetForEpoch(epoch: number): EpochEndOffset | undefined {
    return this.log.endOffsetForEpoch(epoch);
  }

  updateHighWatermark(highWatermark: number): void {
    this.log.updateHighWatermark(highWatermark);
  }

  updateConfig(config: TopicConfig): void {
    const reconfigurable = this.log as unknown as Partial<Reconfigurable>;
    if (typeof reconfigurable.updateConfig === 'function') {
      reconfigurable.updateConfig(toLogConfig(config));
    } else {
      this.logger.warn('this storage version cannot change a live log config: retention/segment/flush changes apply after a restart');
    }
  }

  async applyRetention(nowMs: number): Promise<void> {
    const result = await this.log.applyRetention(nowMs);
    if (result.deletedSegments > 0) this.logger.info({ deletedSegments: result.deletedSegments, logStartOffset: result.logStartOffset }, 'retention deleted segments');
  }

  flush(): Promise<void> {
    return this.log.flush();
  }

  close(): Promise<void> {
    return this.log.close();
  }

  delete(): Promise<void> {
    return this.log.delete();
  }
}

/** Opens storage logs; `nowMs` drives segment.ms, flush.ms and LogAppendTime. */
export function storageLogFactory(args: { readonly logger: Logger; readonly nowMs: () => number }): LogFactory {
  return async ({ dir, topic, partition, config }) => {
    const logger = args.logger.child({ topic, partition });
    const log = await PartitionLog.open({ dir, config: toLogConfig(config), clock: args.nowMs, logger });
    return new StoragePartitionLog(log, logger);
  };
}
