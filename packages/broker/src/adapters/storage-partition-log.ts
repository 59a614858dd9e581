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
    cleanupPolicy: config.cleanupPolicy,
  });
}

/** A live-reconfigurable log, if storage offers it (it may not yet). */
interface Reconfigurable {
  updateConfig(config: LogConfig): void;
}

class StoragePartitionLog implements PartitionLogPort {
  /** Set while the log is being reopened with a new config; log operations wait for it. */
  private reopening: Promise<void> | undefined;

  constructor(
    private log: PartitionLog,
    private readonly reopen: (config: LogConfig) => Promise<PartitionLog>,
    private readonly logger: Logger,
  ) {}

  private async ready(): Promise<PartitionLog> {
    while (this.reopening !== undefined) await this.reopening;
    return this.log;
  }

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
    const info = await (await this.ready()).appendAsLeader(batches, leaderEpoch, options.logAppendTimeMs === undefined ? {} : { logAppendTimeMs: options.logAppendTimeMs });
    return { baseOffset: info.firstOffset, lastOffset: info.lastOffset, logAppendTimeMs: info.logAppendTimeMs };
  }

  get latestEpoch(): number {
    return this.log.latestEpoch;
  }

  async appendAsFollower(batches: Buffer): Promise<LogAppendInfo> {
    const info = await (await this.ready()).appendAsFollower(batches);
    return { baseOffset: info.firstOffset, lastOffset: info.lastOffset, logAppendTimeMs: info.logAppendTimeMs };
  }

  async truncateTo(offset: number): Promise<void> {
    await (await this.ready()).truncateTo(offset);
  }

  async assignLeaderEpoch(leaderEpoch: number): Promise<void> {
    await (await this.ready()).assignLeaderEpoch(leaderEpoch);
  }

  async truncateFullyAndStartAt(offset: number): Promise<void> {
    await (await this.ready()).truncateFullyAndStartAt(offset);
  }

  async read(fetchOffset: number, maxBytes: number, options: { readonly maxOffset: number; readonly minOneBatch: boolean }): Promise<LogReadResult> {
    const result = await (await this.ready()).read(fetchOffset, maxBytes, options);
    return { bytes: result.records };
  }

  async offsetForTimestamp(timestampMs: number): Promise<TimestampLookup | undefined> {
    const found = await (await this.ready()).offsetForTimestamp(timestampMs);
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

  /**
   * Storage's PartitionLog takes its config at open, so a changed config is applied by closing and
   * reopening the log (a clean close: no recovery scan). Appends and reads issued meanwhile wait.
   */
  updateConfig(config: TopicConfig): void {
    const logConfig = toLogConfig(config);
    const reconfigurable = this.log as unknown as Partial<Reconfigurable>;
    if (typeof reconfigurable.updateConfig === 'function') {
      reconfigurable.updateConfig(logConfig);
      return;
    }
    const previous = this.reopening ?? Promise.resolve();
    const reopening = previous.then(async () => {
      const old = this.log;
      await old.close();
      const next = await this.reopen(logConfig);
      // An append that completed while closing may have advanced the HW after its checkpoint.
      if (old.highWatermark > next.highWatermark && old.highWatermark <= next.logEndOffset) next.updateHighWatermark(old.highWatermark);
      this.log = next;
      this.logger.info('log reopened with new config');
    });
    this.reopening = reopening;
    void reopening.then(
      () => { if (this.reopening === reopening) this.reopening = undefined; },
      (err: unknown) => this.logger.error({ err }, 'reopening the log with a new config failed'),
    );
  }

  async applyRetention(nowMs: number): Promise<void> {
    const result = await (await this.ready()).applyRetention(nowMs);
    if (result.deletedSegments > 0) this.logger.info({ deletedSegments: result.deletedSegments, logStartOffset: result.logStartOffset }, 'retention deleted segments');
  }

  async compact(nowMs: number): Promise<void> {
    const result = await (await this.ready()).compact(nowMs);
    if (result.outcome === 'cleaned') this.logger.info({ segmentsRewritten: result.segmentsRewritten, bytesBefore: result.bytesBefore, bytesAfter: result.bytesAfter }, 'log cleaned');
  }

  async flush(): Promise<void> {
    await (await this.ready()).flush();
  }

  async close(): Promise<void> {
    await (await this.ready()).close();
  }

  async delete(): Promise<void> {
    await (await this.ready()).delete();
  }
}

/** Opens storage logs; `nowMs` drives segment.ms, flush.ms and LogAppendTime. */
export function storageLogFactory(args: { readonly logger: Logger; readonly nowMs: () => number }): LogFactory {
  return async ({ dir, topic, partition, config, onFailure }) => {
    const logger = args.logger.child({ topic, partition });
    const open = (logConfig: LogConfig): Promise<PartitionLog> =>
      PartitionLog.open({ dir, config: logConfig, clock: args.nowMs, logger, ...(onFailure === undefined ? {} : { onFailure }) });
    return new StoragePartitionLog(await open(toLogConfig(config)), open, logger);
  };
}
