// The log of one partition replica: a directory of segments plus checkpoints. See docs/storage.md for
// the on-disk layout. In short:
//
//   <dir>/00000000000000000000.log         batches, back to back, exactly as appended (stamped)
//   <dir>/00000000000000000000.index       sparse (relOffset u32, position u32) every index.interval.bytes
//   <dir>/00000000000000000000.timeindex   sparse (maxTimestamp i64, relOffset u32), only when the max grows
//   <dir>/00000000000000000000.txnindex    aborted transactions whose ABORT marker is in the segment (txn-index.ts)
//   <dir>/leader-epoch-checkpoint           "0\n<n>\n<epoch> <startOffset>\n..."
//   <dir>/high-watermark-checkpoint         "0\n<hw>\n"
//   <dir>/recovery-point-checkpoint         "0\n<offset>\n": everything below it is fsynced
//   <dir>/log-start-offset-checkpoint       "0\n<offset>\n" (only meaningful after deleteRecordsBefore)
//   <dir>/.clean-shutdown                   present only between a clean close() and the next open()
//
// Concurrency: every mutation (append, roll, truncate, retention, flush, close) runs on one serialized
// queue ("the writer"). Appends assign offsets synchronously at call time, so offsets follow call order;
// all appends queued in one event-loop turn are written with one writev. Reads run concurrently and only
// see batches whose write has completed (logEndOffset and segment sizes move after the write).
//
// Why one file past 600 lines: everything left here reads or changes one set of fields — the segments,
// log start and end, the next offset to assign, the high watermark, the recovery point and the epoch
// cache — in the writer queue's order, and append, roll, retention, truncation, flush and close each
// depend on the others' changes to them. What does not touch those fields lives beside it: the queue
// (writer-queue.ts), compaction (log-compactor.ts), checkpoint files (log-checkpoints.ts), loading and
// recovery (log-loader.ts), one segment (log-segment.ts).
import assert from 'node:assert/strict';
import { setAsideDirPath } from './set-aside-dir.js';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { type BatchExtent, checkAppendBatches, checkValidatedBatches } from './batch-header.js';
import { type BatchHeader, setLogAppendTime, stampBatch } from '@tributary/record-format';
import { type CleanerCheckpoint, fsyncDir, writeFileAtomic } from './checkpoint-file.js';
import { DEFAULT_CLEANER_DEDUPE_BUFFER_BYTES } from './log-cleaner.js';
import { InvalidRecordError, LogUnavailableError, OffsetOutOfRangeError, UnexpectedAppendOffsetError } from './errors.js';
import type { EpochEndOffset, LeaderEpochCache } from './leader-epoch-cache.js';
import { LogCheckpoints } from './log-checkpoints.js';
import { type CleanResult, type CompactionHandle, type CompactOptions, LogCompactor } from './log-compactor.js';
import { DEFAULT_LOG_CONFIG, deletesByRetention, type LogConfig } from './log-config.js';
import { CLEAN_SHUTDOWN_FILE, type LoadedLog, loadLog } from './log-loader.js';
import { LogSegment, MAX_RELATIVE_OFFSET, type PlacedBatch } from './log-segment.js';
import { WriterQueue } from './writer-queue.js';
import { type AbortedTxn, checkAbortedTxn } from './txn-index.js';
import { type Clock, type Logger, NOOP_LOGGER } from './logger.js';


/** Largest single append call (all its batches), bytes: one write must fit a u32 segment position. */
export const APPEND_MAX_BYTES = 0x7fffffff;
/** Most bytes one read() returns (beyond one oversized first batch): bounds the buffer a fetch allocates. */
export const READ_MAX_BYTES = 32 * 1024 * 1024;
const FLUSH_TIMER_PERIOD_MS_MAX = 1000;
const FLUSH_TIMER_PERIOD_MS_MIN = 10;

/**
 * Refuses (InvalidRecordError, log unchanged) an append whose offsets [firstOffset, lastOffset] could not
 * be written: past the safe-integer range offsets are kept in, or wider than one segment's relative
 * offsets (MAX_RELATIVE_OFFSET). The writer rolls a segment before an append that does not fit it, but one
 * append always lands in one segment, so a wider one would break the segment's index and fail the log —
 * and a client's (or a peer's) bytes must never fail a log. Checked before any offset is assigned.
 */
function checkAppendSpan(firstOffset: number, lastOffset: number, batchCount: number): void {
  if (!Number.isSafeInteger(lastOffset) || !Number.isSafeInteger(firstOffset) || lastOffset < firstOffset) {
    throw new InvalidRecordError(`append of ${batchCount} batch(es) at offset ${firstOffset} would end at offset ${lastOffset}, outside the offsets this log can hold`);
  }
  if (lastOffset - firstOffset > MAX_RELATIVE_OFFSET) {
    throw new InvalidRecordError(
      `append of ${batchCount} batch(es) spans ${lastOffset - firstOffset + 1} offsets [${firstOffset}, ${lastOffset}], more than one segment can index (${MAX_RELATIVE_OFFSET + 1})`,
    );
  }
}

export interface PartitionLogOptions {
  /** The partition's directory; created if missing. The log owns it exclusively. */
  readonly dir: string;
  readonly config?: LogConfig;
  readonly clock: Clock;
  readonly logger?: Logger;
  /**
   * Offset below which the log is known to be fsynced (recovery scans only segments that may hold
   * offsets ≥ it after an unclean stop). Defaults to the log's own recovery-point checkpoint, else 0.
   */
  readonly recoveryPoint?: number;
  /**
   * How often the log persists a changed high watermark, milliseconds (Kafka's
   * replica.high.watermark.checkpoint.interval.ms); Infinity = only on close() and
   * checkpointHighWatermark(). Default 5000.
   */
  readonly highWatermarkCheckpointIntervalMs?: number;
  /**
   * Bound on the cleaner's key -> offset map, bytes (Kafka's broker-wide log.cleaner.dedupe.buffer.size;
   * a broker setting, so not in LogConfig). A dirty range whose keys do not fit is cleaned in several
   * passes. Default DEFAULT_CLEANER_DEDUPE_BUFFER_BYTES (128 MiB).
   */
  readonly cleanerDedupeBufferBytes?: number;
  /**
   * Called once when the log fails on an I/O error (state 'failed': it must be reopened). The owner
   * takes the replica offline (Kafka's LogDirFailureChannel). Must not throw.
   */
  readonly onFailure?: (err: unknown) => void;
}

export const DEFAULT_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS = 5000;

export interface AppendInfo {
  readonly firstOffset: number;
  /** Offset of the last record appended (closed). */
  readonly lastOffset: number;
  /** Largest batch maxTimestamp appended (the append time under LogAppendTime). */
  readonly maxTimestamp: number;
  /** Base offset of the batch holding maxTimestamp. */
  readonly offsetOfMaxTimestamp: number;
  /** The broker time stamped into the batches, or -1 for CreateTime. */
  readonly logAppendTimeMs: number;
  readonly validBytes: number;
  readonly batchCount: number;
}

export interface ReadOptions {
  /** Exclusive upper bound on offsets returned (e.g. the high watermark); defaults to the log end offset. */
  readonly maxOffset?: number;
  /** Return the first batch even if it is larger than maxBytes (Kafka's fetch semantics). Default true. */
  readonly minOneBatch?: boolean;
}

export interface ReadResult {
  /**
   * Whole batches, starting with the batch that contains fetchOffset (its base offset may be lower).
   * A fresh buffer the caller owns. Empty when nothing is readable below maxOffset.
   */
  readonly records: Buffer;
  /** Base offset of the first batch in `records`; fetchOffset when empty. */
  readonly firstOffset: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

export interface TimestampOffset {
  readonly offset: number;
  readonly timestamp: number;
}

export interface RetentionResult {
  readonly deletedSegments: number;
  readonly logStartOffset: number;
}

export interface IoStats {
  /** Positional writes of batches (one per segment per drained group of appends). */
  readonly writes: number;
  readonly fsyncs: number;
  readonly segmentsRolled: number;
}

export type LogState = 'open' | 'closing' | 'closed' | 'failed';

interface AppendOp {
  readonly buffer: Buffer;
  readonly batches: readonly BatchExtent[];
  readonly info: AppendInfo;
  /** The log end offset the append was checked against: it must still be the end when it is written. */
  readonly continuesFrom: number;
  /** The base offset of the append's last batch that starts after a gap (follower appends); -1 when dense. */
  readonly gapsEndOffset: number;
  readonly resolve: (info: AppendInfo) => void;
  readonly reject: (err: unknown) => void;
}

export class PartitionLog {
  private readonly segments: LogSegment[];
  private configValue: LogConfig;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly epochCache: LeaderEpochCache;
  private state: LogState = 'open';
  private logStartOffsetValue: number;
  private logEndOffsetValue: number;
  /** Next offset appendAsLeader will assign / appendAsFollower expects; ahead of LEO while writes are queued. */
  private nextOffsetToAssign: number;
  private highWatermarkValue: number;
  private recoveryPointValue: number;
  private lastFlushMs: number;
  private epochCheckpointDirty = false;
  private readonly writer = new WriterQueue<AppendOp>({
    writeAppends: (group) => this.writeAppends(group),
    hasFailed: () => this.state === 'failed',
    failedError: (cause) => new LogUnavailableError(`log ${this.dir} failed`, { cause }),
  });
  private readonly backgroundTasks = new Set<Promise<void>>();
  private readonly checkpoints: LogCheckpoints;
  private flushTimer: NodeJS.Timeout | null = null;
  private highWatermarkTimer: NodeJS.Timeout | null = null;
  private flushQueued = false;
  private closePromise: Promise<void> | null = null;
  private failure: unknown = null;
  private stats = { writes: 0, fsyncs: 0, segmentsRolled: 0 };
  private readonly compactor: LogCompactor;
  private readonly onFailure: ((err: unknown) => void) | undefined;
  private readonly txnIndexIncompleteFromValue: number | null;

  private constructor(
    readonly dir: string,
    init: {
      config: LogConfig;
      clock: Clock;
      logger: Logger;
      segments: LogSegment[];
      epochCache: LeaderEpochCache;
      logStartOffset: number;
      highWatermark: number;
      recoveryPoint: number;
      highWatermarkCheckpointIntervalMs: number;
      cleaner: CleanerCheckpoint;
      cleanerDedupeBufferBytes: number;
      onFailure: ((err: unknown) => void) | undefined;
      txnIndexIncompleteFrom: number | null;
    },
  ) {
    this.onFailure = init.onFailure;
    this.txnIndexIncompleteFromValue = init.txnIndexIncompleteFrom;
    this.checkpoints = new LogCheckpoints(dir);
    this.configValue = init.config;
    this.clock = init.clock;
    this.logger = init.logger;
    this.segments = init.segments;
    this.epochCache = init.epochCache;
    this.logStartOffsetValue = init.logStartOffset;
    this.logEndOffsetValue = this.activeSegment.nextOffset;
    this.nextOffsetToAssign = this.logEndOffsetValue;
    this.highWatermarkValue = init.highWatermark;
    this.recoveryPointValue = init.recoveryPoint;
    // After the fields its handle reads.
    this.compactor = new LogCompactor(this.compactionHandle(), { checkpoint: init.cleaner, dedupeBufferBytes: init.cleanerDedupeBufferBytes });
    this.lastFlushMs = this.clock();
    this.startFlushTimer();
    const checkpointMs = init.highWatermarkCheckpointIntervalMs;
    assert.ok(checkpointMs > 0, `highWatermarkCheckpointIntervalMs ${checkpointMs} must be > 0`);
    if (Number.isFinite(checkpointMs)) {
      this.highWatermarkTimer = setInterval(() => {
        if (this.state !== 'open') return;
        this.checkpointHighWatermark().catch((err: unknown) => this.logger.error({ dir: this.dir, err }, 'high watermark checkpoint failed'));
      }, checkpointMs);
      this.highWatermarkTimer.unref();
    }
  }

  private get config(): LogConfig {
    return this.configValue;
  }

  /** The flush.ms timer, unref'd so it never keeps the process alive; close() clears it. */
  private startFlushTimer(): void {
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    this.flushTimer = null;
    if (!Number.isFinite(this.config.flushMs)) return;
    const periodMs = Math.min(Math.max(this.config.flushMs, FLUSH_TIMER_PERIOD_MS_MIN), FLUSH_TIMER_PERIOD_MS_MAX);
    this.flushTimer = setInterval(() => this.onFlushTimer(), periodMs);
    this.flushTimer.unref();
  }

  /** The config in force. */
  get logConfig(): LogConfig {
    return this.configValue;
  }

  /**
   * Applies a changed config to the live log: later appends, rolls, flushes and retention use it.
   * segment.index.bytes applies to segments created from now on.
   */
  updateConfig(config: LogConfig): void {
    this.assertWritable();
    const previous = this.configValue;
    this.configValue = config;
    if (config.flushMs !== previous.flushMs) this.startFlushTimer();
    this.logger.info({ dir: this.dir, config }, 'log config updated');
  }

  /** Opens (creating if needed) the log in `dir`, recovering its tail if the last stop was unclean. */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const config = options.config ?? DEFAULT_LOG_CONFIG;
    const logger = options.logger ?? NOOP_LOGGER;
    const { dir } = options;
    const loaded = await loadLog({ dir, config, logger, ...(options.recoveryPoint === undefined ? {} : { recoveryPoint: options.recoveryPoint }) });
    try {
      const log = new PartitionLog(dir, {
        config,
        clock: options.clock,
        logger,
        segments: loaded.segments,
        epochCache: loaded.epochCache,
        logStartOffset: loaded.logStartOffset,
        highWatermark: loaded.highWatermark,
        recoveryPoint: loaded.segments.at(-1)!.nextOffset,
        highWatermarkCheckpointIntervalMs: options.highWatermarkCheckpointIntervalMs ?? DEFAULT_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS,
        cleaner: loaded.cleaner,
        cleanerDedupeBufferBytes: options.cleanerDedupeBufferBytes ?? DEFAULT_CLEANER_DEDUPE_BUFFER_BYTES,
        onFailure: options.onFailure,
        txnIndexIncompleteFrom: loaded.txnIndexIncompleteFrom,
      });
      await log.finishOpen(loaded);
      await loaded.segments.at(-1)!.restoreRollStart(options.clock());
      return log;
    } catch (err) {
      for (const segment of loaded.segments) await segment.close().catch(() => undefined);
      throw err;
    }
  }

  /** Persists what loading changed, then removes the clean-shutdown marker. */
  private async finishOpen(loaded: LoadedLog): Promise<void> {
    const { checkpointed } = loaded;
    this.checkpoints.loaded(checkpointed);
    if (loaded.epochCacheChanged || loaded.recovered) await this.writeEpochCheckpoint();
    await this.checkpoints.recoveryPoint(this.logEndOffsetValue);
    if (loaded.cleanShutdown) {
      // From here on a crash is an unclean stop.
      await rm(path.join(this.dir, CLEAN_SHUTDOWN_FILE), { force: true });
      await fsyncDir(this.dir);
    }
    this.logger.info(
      { dir: this.dir, logStartOffset: this.logStartOffsetValue, logEndOffset: this.logEndOffsetValue, segments: this.segments.length, cleanShutdown: loaded.cleanShutdown, recovered: loaded.recovered },
      'log opened',
    );
  }

  // ---- state ----

  get logStartOffset(): number {
    return this.logStartOffsetValue;
  }

  /** One past the last offset whose batch is written and readable. */
  get logEndOffset(): number {
    return this.logEndOffsetValue;
  }

  get highWatermark(): number {
    return this.highWatermarkValue;
  }

  /** Every offset below it is fsynced. */
  get recoveryPoint(): number {
    return this.recoveryPointValue;
  }

  /** The newest leader epoch in the epoch cache, -1 when none. */
  get latestEpoch(): number {
    return this.epochCache.latestEpoch;
  }

  get currentState(): LogState {
    return this.state;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Sum of the segments' written bytes. */
  get sizeBytes(): number {
    return this.segments.reduce((n, s) => n + s.sizeBytes, 0);
  }

  get ioStats(): IoStats {
    return { ...this.stats };
  }

  /** Base offsets of the segments, oldest first. */
  segmentBaseOffsets(): number[] {
    return this.segments.map((s) => s.baseOffset);
  }

  epochEntries(): readonly { epoch: number; startOffset: number }[] {
    return this.epochCache.list();
  }

  private get activeSegment(): LogSegment {
    return this.segments.at(-1)!;
  }

  /**
   * Sets the high watermark. It must lie in [logStartOffset, logEndOffset] and never move back (only
   * truncation lowers it); anything else is a broken replication invariant and throws AssertionError.
   */
  updateHighWatermark(highWatermark: number): void {
    assert.ok(Number.isSafeInteger(highWatermark), `high watermark ${highWatermark} is not an integer`);
    assert.ok(highWatermark >= this.logStartOffsetValue && highWatermark <= this.logEndOffsetValue, `high watermark ${highWatermark} outside [${this.logStartOffsetValue}, ${this.logEndOffsetValue}]`);
    assert.ok(highWatermark >= this.highWatermarkValue, `high watermark moving back from ${this.highWatermarkValue} to ${highWatermark}`);
    this.highWatermarkValue = highWatermark;
  }

  /** Persists the high watermark if it changed (atomic write). Runs on a timer and in close(). */
  async checkpointHighWatermark(): Promise<void> {
    await this.checkpoints.highWatermark(this.highWatermarkValue);
  }

  // ---- append ----

  /**
   * Appends batches (concatenated) as the leader: validates framing, magic and size
   * (CorruptRecordError / RecordTooLargeError / InvalidRecordError, leaving the log unchanged; the CRC and
   * records are the broker edge's to check), then
   * stamps baseOffset = the next offset and partitionLeaderEpoch = leaderEpoch in place (the log takes
   * ownership of `batches`). With `logAppendTimeMs` the batches become LogAppendTime (CRC updated by the
   * change without a pass over the batch; verified first unless `headers` say the edge verified it).
   * Resolves once written (and fsynced when the flush policy says so). `headers`: the headers the edge's
   * validateBatches read from exactly these bytes; with them nothing is re-parsed, the log only asserts
   * that they tile `batches` (checkValidatedBatches).
   */
  appendAsLeader(
    batches: Buffer,
    leaderEpoch: number,
    opts: { readonly logAppendTimeMs?: number; readonly headers?: readonly BatchHeader[] } = {},
  ): Promise<AppendInfo> {
    try {
      this.assertWritable();
      assert.ok(Number.isInteger(leaderEpoch) && leaderEpoch >= 0, `leader epoch ${leaderEpoch} must be a non-negative integer`);
      assert.ok(leaderEpoch >= this.epochCache.latestEpoch, `append at leader epoch ${leaderEpoch} below the log's latest epoch ${this.epochCache.latestEpoch}`);
      assert.ok(batches.length <= APPEND_MAX_BYTES, `append of ${batches.length} bytes exceeds ${APPEND_MAX_BYTES}`);
      // The broker validated these batches (CRC and records) at the edge: trust the CRC. With the edge's
      // headers, assert that they tile the bytes (no re-parse); without them, re-read the framing.
      const limits = { maxBatchBytes: this.config.maxMessageBytes, requireDenseOffsets: true };
      const validated = opts.headers !== undefined
        ? checkValidatedBatches(batches, opts.headers, limits)
        : checkAppendBatches(batches, { ...limits, verifyCrc: false });
      const firstOffset = this.nextOffsetToAssign;
      checkAppendSpan(firstOffset, validated.reduce((last, b) => last + b.lastOffsetDelta + 1, firstOffset - 1), validated.length);
      let nextOffset = firstOffset;
      const logAppendTimeMs = opts.logAppendTimeMs;
      const stamped: BatchExtent[] = [];
      for (const batch of validated) {
        stampBatch(batches, batch.position, { baseOffset: nextOffset, partitionLeaderEpoch: leaderEpoch });
        // The CRC is updated by the change, never recomputed from the bytes, so a batch damaged after the
        // edge is never re-blessed. With the edge's headers (its CRC verified by validateBatches) that is
        // the whole cost; without them the stored CRC is verified first.
        if (logAppendTimeMs !== undefined) {
          setLogAppendTime(batches, batch.position, logAppendTimeMs, { crc: opts.headers !== undefined ? 'verified-at-edge' : 'verify' });
        }
        stamped.push({
          position: batch.position,
          sizeBytes: batch.sizeBytes,
          baseOffset: nextOffset,
          lastOffset: nextOffset + batch.lastOffsetDelta,
          partitionLeaderEpoch: leaderEpoch,
          maxTimestamp: logAppendTimeMs ?? batch.maxTimestamp,
        });
        nextOffset += batch.lastOffsetDelta + 1;
      }
      if (this.epochCache.assign(leaderEpoch, firstOffset)) this.epochCheckpointDirty = true;
      this.nextOffsetToAssign = nextOffset;
      return this.enqueueAppend(batches, stamped, logAppendTimeMs ?? -1, { continuesFrom: firstOffset, gapsEndOffset: -1 });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Appends batches replicated from the leader, keeping their offsets and epochs. Offsets may have gaps
   * (Kafka's follower rule): the leader's cleaner removes records and whole batches, so the first batch
   * must start at or after the log end offset and each batch after the previous one's last offset
   * (UnexpectedAppendOffsetError otherwise); the log end offset becomes the last batch's lastOffset + 1.
   * A gap is made durable as legal (the cleaner checkpoint's compactedEndOffset) before the batch after
   * it is written, so recovery still demands dense offsets everywhere else. max.message.bytes is not
   * enforced: the leader already accepted these batches.
   */
  appendAsFollower(batches: Buffer): Promise<AppendInfo> {
    try {
      this.assertWritable();
      assert.ok(batches.length <= APPEND_MAX_BYTES, `append of ${batches.length} bytes exceeds ${APPEND_MAX_BYTES}`);
      // Bytes from the network: the CRC is checked here.
      const validated = checkAppendBatches(batches, { maxBatchBytes: APPEND_MAX_BYTES, requireDenseOffsets: false, verifyCrc: true });
      const continuesFrom = this.nextOffsetToAssign;
      let expected = continuesFrom;
      let gapsEndOffset = -1;
      for (const batch of validated) {
        if (batch.baseOffset < expected) {
          throw new UnexpectedAppendOffsetError(
            `follower batch at byte ${batch.position} starts at offset ${batch.baseOffset}, below the next offset ${expected}` +
              (batch.position === 0 ? ' (the log end offset)' : ' (offsets must increase)'),
            expected,
            batch.baseOffset,
          );
        }
        if (batch.baseOffset > expected) gapsEndOffset = batch.baseOffset;
        expected = batch.lastOffset + 1;
      }
      checkAppendSpan(validated[0]!.baseOffset, expected - 1, validated.length);
      for (const batch of validated) {
        if (this.epochCache.assign(batch.partitionLeaderEpoch, batch.baseOffset)) this.epochCheckpointDirty = true;
      }
      this.nextOffsetToAssign = expected;
      return this.enqueueAppend(batches, validated, -1, { continuesFrom, gapsEndOffset });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private enqueueAppend(
    buffer: Buffer,
    batches: readonly BatchExtent[],
    logAppendTimeMs: number,
    placement: { readonly continuesFrom: number; readonly gapsEndOffset: number },
  ): Promise<AppendInfo> {
    let maxTimestamp = -1;
    let offsetOfMaxTimestamp = -1;
    for (const batch of batches) {
      if (batch.maxTimestamp > maxTimestamp) {
        maxTimestamp = batch.maxTimestamp;
        offsetOfMaxTimestamp = batch.baseOffset;
      }
    }
    const info: AppendInfo = {
      firstOffset: batches[0]!.baseOffset,
      lastOffset: batches.at(-1)!.lastOffset,
      maxTimestamp,
      offsetOfMaxTimestamp,
      logAppendTimeMs,
      validBytes: buffer.length,
      batchCount: batches.length,
    };
    return new Promise<AppendInfo>((resolve, reject) => this.writer.append({ buffer, batches, info, ...placement, resolve, reject }));
  }

  /** Runs `run` on the writer queue, after everything queued before it. */
  private enqueueTask<T>(run: () => Promise<T>): Promise<T> {
    return this.writer.task(run);
  }

  private async writeAppends(group: AppendOp[]): Promise<void> {
    try {
      if (this.state === 'failed') throw this.unavailable();
      if (this.epochCheckpointDirty) await this.writeEpochCheckpoint();
      // Gaps a follower append brings are made legal for recovery before any of its bytes can reach the disk.
      const gapsEndOffset = group.reduce((end, op) => Math.max(end, op.gapsEndOffset), -1);
      if (gapsEndOffset >= 0) await this.compactor.admitGapsTo(gapsEndOffset);
      const nowMs = this.clock();
      let segment = this.activeSegment;
      let buffers: Buffer[] = [];
      let placed: PlacedBatch[] = [];
      let plannedBytes = segment.sizeBytes;
      let plannedNextOffset = segment.nextOffset;
      const written: AppendOp[] = [];
      for (const op of group) {
        if (op.continuesFrom !== plannedNextOffset) {
          // Only possible when an append raced a truncation that landed below its offsets.
          op.reject(new UnexpectedAppendOffsetError(`append at offset ${op.info.firstOffset} (checked against log end ${op.continuesFrom}) does not continue the log at ${plannedNextOffset}`, plannedNextOffset, op.info.firstOffset));
          continue;
        }
        if (this.shouldRoll(segment, plannedBytes, op, nowMs)) {
          if (placed.length > 0) await this.writeToSegment(segment, buffers, placed, nowMs);
          // The new segment continues the log, unless a gap before the append is too wide for its
          // relative offsets: then it starts at the append's first batch (the gap is admitted above).
          const fitsAfterEnd = op.info.lastOffset - plannedNextOffset <= MAX_RELATIVE_OFFSET;
          segment = await this.roll(fitsAfterEnd ? plannedNextOffset : op.info.firstOffset);
          buffers = [];
          placed = [];
          plannedBytes = 0;
        }
        buffers.push(op.buffer);
        for (const batch of op.batches) {
          placed.push({ position: plannedBytes + batch.position, sizeBytes: batch.sizeBytes, baseOffset: batch.baseOffset, lastOffset: batch.lastOffset, maxTimestamp: batch.maxTimestamp });
        }
        plannedBytes += op.buffer.length;
        plannedNextOffset = op.info.lastOffset + 1;
        written.push(op);
      }
      if (placed.length > 0) await this.writeToSegment(segment, buffers, placed, nowMs);
      if (written.length < group.length) {
        // Rejected appends had offsets (and maybe an epoch) assigned; take them back.
        this.resyncNextOffset();
        if (this.epochCache.truncateFromEnd(this.nextOffsetToAssign)) await this.writeEpochCheckpoint();
      }
      if (this.logEndOffsetValue - this.recoveryPointValue >= this.config.flushMessages) await this.flushSegments();
      for (const op of written) op.resolve(op.info);
    } catch (err) {
      this.fail(err);
      for (const op of group) op.reject(this.unavailable());
      this.rejectQueued(err);
    }
  }

  /**
   * After a truncation or rejected appends, the next offset to assign is the log end offset again,
   * unless appends issued since then are still queued (they were assigned offsets from the new end).
   */
  private resyncNextOffset(): void {
    if (!this.writer.hasQueuedAppends()) this.nextOffsetToAssign = this.logEndOffsetValue;
  }

  private async writeToSegment(segment: LogSegment, buffers: Buffer[], placed: PlacedBatch[], nowMs: number): Promise<void> {
    await segment.append(buffers, placed, this.config, nowMs);
    this.stats.writes += 1;
    this.logEndOffsetValue = segment.nextOffset;
  }

  /** Kafka's shouldRoll: a non-empty segment rolls for size, age or a full index; any segment for relative-offset overflow. */
  private shouldRoll(segment: LogSegment, plannedBytes: number, op: AppendOp, nowMs: number): boolean {
    // Even an empty one: a follower append after a gap wider than its relative offsets.
    if (op.info.lastOffset - segment.baseOffset > MAX_RELATIVE_OFFSET) return true;
    if (plannedBytes === 0) return false;
    const rollStartMs = segment.rollStartMs ?? nowMs;
    return (
      plannedBytes > this.config.segmentBytes - op.buffer.length ||
      nowMs - rollStartMs >= this.config.segmentMs ||
      segment.indexesFull()
    );
  }

  /** Starts a new active segment at `baseOffset`; the old one is persisted and fsynced in the background. */
  private async roll(baseOffset: number): Promise<LogSegment> {
    const previous = this.activeSegment;
    assert.ok(
      baseOffset === previous.nextOffset || (baseOffset > previous.nextOffset && baseOffset <= this.compactor.compactedEndOffset),
      `a new segment at ${baseOffset} must start at the log end offset ${previous.nextOffset}, or after an admitted gap (compacted end ${this.compactor.compactedEndOffset})`,
    );
    const next = await LogSegment.create(this.dir, baseOffset, this.config);
    this.segments.push(next);
    this.stats.segmentsRolled += 1;
    this.logger.info({ dir: this.dir, baseOffset, previousBaseOffset: previous.baseOffset, previousSizeBytes: previous.sizeBytes }, 'rolled segment');
    const task = (async () => {
      await previous.persistIndexes({ sync: true });
      await previous.fsync();
      this.stats.fsyncs += 1;
      await fsyncDir(this.dir);
      if (this.state !== 'open') return;
      if (baseOffset > this.recoveryPointValue) {
        this.recoveryPointValue = baseOffset;
        await this.checkpoints.recoveryPoint(baseOffset);
      }
    })();
    previous.closingTask = task;
    this.trackBackground(task);
    return next;
  }

  private trackBackground(task: Promise<void>): void {
    const tracked = task.catch((err: unknown) => {
      this.logger.error({ dir: this.dir, err }, 'background segment flush failed');
      this.fail(err);
    });
    this.backgroundTasks.add(tracked);
    void tracked.finally(() => this.backgroundTasks.delete(tracked));
  }

  /** Resolves when queued writes and background segment flushes (after rolls) are done. */
  async settled(): Promise<void> {
    if (this.writer.busy) await this.enqueueTask(async () => undefined).catch(() => undefined);
    await Promise.all([...this.backgroundTasks]);
  }

  // ---- flush ----

  /** fsyncs every written batch; resolves when durable. */
  flush(): Promise<void> {
    try {
      this.assertWritable();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueueTask(() => this.flushSegments());
  }

  private async flushSegments(): Promise<void> {
    const target = this.logEndOffsetValue;
    for (const segment of this.segments) {
      if (segment.dirty) {
        await segment.fsync();
        this.stats.fsyncs += 1;
      }
      // The txn index goes with the flush policy; a just-rolled segment's own persist may be in flight,
      // so this one waits for it.
      if (segment.txnIndexDirty) {
        await segment.closingTask?.catch(() => undefined);
        await segment.persistTxnIndex({ sync: true });
      }
    }
    this.recoveryPointValue = Math.max(this.recoveryPointValue, target);
    this.lastFlushMs = this.clock();
  }

  private onFlushTimer(): void {
    if (this.state !== 'open' || this.flushQueued) return;
    if (this.logEndOffsetValue <= this.recoveryPointValue) return;
    if (this.clock() - this.lastFlushMs < this.config.flushMs) return;
    this.flushQueued = true;
    this.enqueueTask(() => this.flushSegments())
      .catch((err: unknown) => this.logger.error({ dir: this.dir, err }, 'timed flush failed'))
      .finally(() => {
        this.flushQueued = false;
      });
  }

  // ---- read ----

  /**
   * Reads whole batches starting with the one containing fetchOffset, up to maxBytes (at least one
   * batch with minOneBatch), stopping before any batch that reaches opts.maxOffset. Throws
   * OffsetOutOfRangeError when fetchOffset is outside [logStartOffset, logEndOffset].
   */
  async read(fetchOffset: number, maxBytes: number, opts: ReadOptions = {}): Promise<ReadResult> {
    this.assertReadable();
    assert.ok(Number.isSafeInteger(fetchOffset), `fetch offset ${fetchOffset} is not an integer`);
    assert.ok(maxBytes >= 0, `maxBytes ${maxBytes} must be ≥ 0`);
    const logStartOffset = this.logStartOffsetValue;
    const logEndOffset = this.logEndOffsetValue;
    const highWatermark = this.highWatermarkValue;
    if (fetchOffset < logStartOffset || fetchOffset > logEndOffset) {
      throw new OffsetOutOfRangeError(`offset ${fetchOffset} is outside [${logStartOffset}, ${logEndOffset}]`, logStartOffset, logEndOffset);
    }
    const maxOffset = Math.min(opts.maxOffset ?? logEndOffset, logEndOffset);
    const minOneBatch = opts.minOneBatch ?? true;
    const empty: ReadResult = { records: Buffer.alloc(0), firstOffset: fetchOffset, highWatermark, logStartOffset, logEndOffset };
    if (fetchOffset >= maxOffset) return empty;
    // Pin the segments now, synchronously, so retention cannot close their files under this read.
    const segments = this.segments.slice(this.segmentIndexFor(this.segments, fetchOffset));
    for (const segment of segments) segment.acquire();
    const chunks: Buffer[] = [];
    let totalBytes = 0;
    let firstOffset = fetchOffset;
    const limitBytes = Math.min(maxBytes, READ_MAX_BYTES);
    try {
      for (const segment of segments) {
        const start = await segment.findBatch(fetchOffset);
        if (start === null) continue;
        if (chunks.length === 0) firstOffset = start.baseOffset;
        const { records, reachedEnd } = await segment.readBatches(start.position, {
          maxBytes: limitBytes - totalBytes,
          maxOffset,
          mustTakeOne: minOneBatch && chunks.length === 0,
        });
        if (records.length > 0) chunks.push(records);
        totalBytes += records.length;
        if (!reachedEnd || totalBytes >= limitBytes) break;
      }
    } finally {
      for (const segment of segments) segment.release();
    }
    if (chunks.length === 0) return empty;
    const records = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, totalBytes);
    return { records, firstOffset, highWatermark, logStartOffset, logEndOffset };
  }

  /** Index of the last segment whose base offset is ≤ offset (0 when none). */
  private segmentIndexFor(segments: readonly LogSegment[], offset: number): number {
    let lo = 0;
    let hi = segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segments[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /**
   * The first batch (at or after logStartOffset) whose maxTimestamp is ≥ timestamp: returns its base
   * offset (raised to logStartOffset) and maxTimestamp, or null when no batch qualifies. Batch
   * granularity: records inside the batch may have smaller timestamps; a caller needing the exact record
   * decodes the batch from the returned offset.
   */
  async offsetForTimestamp(timestamp: number): Promise<TimestampOffset | null> {
    this.assertReadable();
    const logStartOffset = this.logStartOffsetValue;
    const segments = [...this.segments];
    for (const segment of segments) segment.acquire();
    try {
      for (const segment of segments) {
        if (segment.nextOffset <= logStartOffset || segment.maxTimestamp < timestamp) continue;
        const found = await segment.findBatchByTimestamp(timestamp, logStartOffset);
        if (found !== null) return { offset: Math.max(found.baseOffset, logStartOffset), timestamp: found.maxTimestamp };
      }
      return null;
    } finally {
      for (const segment of segments) segment.release();
    }
  }

  /** The largest batch maxTimestamp in the log and the base offset of its batch, or null when empty. */
  maxTimestampAndOffset(): TimestampOffset | null {
    let best: TimestampOffset | null = null;
    for (const segment of this.segments) {
      if (segment.maxTimestamp >= 0 && (best === null || segment.maxTimestamp > best.timestamp)) {
        best = { offset: segment.offsetOfMaxTimestamp, timestamp: segment.maxTimestamp };
      }
    }
    return best;
  }

  /**
   * This replica leads `leaderEpoch` from the current log end (Kafka's maybeAssignEpochStartOffset):
   * the epoch is the log's latest even before the leader writes in it — a replica that led a newer
   * epoch (and exposed the records it had under it) outranks one whose last record is newer but whose
   * last leadership is older, which the controller's recovery election and follower truncation rely
   * on. Durable (checkpoint fsynced) when the promise resolves; no-op for an epoch not newer than the latest.
   */
  assignLeaderEpoch(leaderEpoch: number): Promise<void> {
    try {
      this.assertWritable();
    } catch (err) {
      return Promise.reject(err);
    }
    const startOffset = this.nextOffsetToAssign;
    if (!this.epochCache.assign(leaderEpoch, startOffset)) return Promise.resolve();
    return Promise.all([this.writeEpochCheckpoint(), this.checkpoints.assignedEpoch(leaderEpoch, startOffset)]).then(() => undefined);
  }

  /** Kafka's OffsetsForLeaderEpoch answer for this log (see LeaderEpochCache.endOffsetFor). */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochCache.endOffsetFor(epoch, this.logEndOffsetValue);
  }

  // ---- aborted transactions (txn-index.ts) ----

  /**
   * After open: the txn indexes may lack entries for ABORT markers at offsets ≥ it (an unclean stop
   * lost entries added after the last flush, or a `.txnindex` was unreadable and started empty, or
   * had a torn entry). Reported by the open that found the loss. The
   * broker's producer-state rebuild must replay markers from at most here and re-add their entries
   * (appendAbortedTxn ignores the ones already there). null: every entry added before the stop is here.
   */
  get txnIndexIncompleteFrom(): number | null {
    return this.txnIndexIncompleteFromValue;
  }

  /**
   * Records an aborted transaction (Kafka's TxnIndex append) in the `.txnindex` of the segment holding
   * its ABORT marker (`txn.lastOffset`). Call it once the marker's append was issued (it runs on the
   * writer queue after that append) and before the last stable offset passes `txn.firstOffset`: the
   * cleaner treats transactional data below the LSO that no entry covers as committed.
   *
   * - A malformed entry, one whose marker was never appended (lastOffset ≥ the next offset to assign),
   *   or one whose lastOffset is not the offset of an ABORT marker of `txn.producerId` (checked when it
   *   runs), is refused with InvalidRecordError and changes nothing.
   * - Duplicate-safe: an entry whose lastOffset is ≤ the last one recorded in its marker's segment is
   *   ignored (the broker re-adds entries while rebuilding its producer state). Per segment, not per
   *   log, so the entries of a segment whose `.txnindex` was lost can be re-added after later segments'
   *   (entries are lost only as a whole file or a suffix of one, so re-adds arrive in order). So is an
   *   entry whose marker a truncation removed, or below the log start, by the time it runs.
   * - Durability: persisted with the segment's flush (flush.ms / flush.messages / flush()), its roll,
   *   and close(); an entry for a segment that is no longer active, or whose marker is already below the
   *   recovery point, is persisted (fsynced) before the promise resolves. So every entry whose marker is
   *   below the recovery point is durable (see txnIndexIncompleteFrom for the rest).
   */
  appendAbortedTxn(txn: AbortedTxn): Promise<void> {
    try {
      this.assertWritable();
      const problem = checkAbortedTxn(txn);
      if (problem !== null) throw new InvalidRecordError(`aborted transaction entry: ${problem}`);
      if (txn.lastOffset >= this.nextOffsetToAssign) {
        throw new InvalidRecordError(`aborted transaction entry: marker offset ${txn.lastOffset} was not appended (next offset ${this.nextOffsetToAssign})`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const entry: AbortedTxn = { producerId: txn.producerId, firstOffset: txn.firstOffset, lastOffset: txn.lastOffset, lastStableOffset: txn.lastStableOffset };
    return this.enqueueTask(async () => {
      if (entry.lastOffset >= this.logEndOffsetValue || entry.lastOffset < this.logStartOffsetValue) return;
      const segment = this.segments[this.segmentIndexFor(this.segments, entry.lastOffset)]!;
      // A just-rolled segment may be persisting its indexes; this write must come after that one.
      await segment.closingTask?.catch(() => undefined);
      const last = segment.txnIndex.lastEntry();
      if (last !== null && entry.lastOffset <= last.lastOffset) return;
      segment.acquire();
      try {
        const marker = await segment.markerAt(entry.lastOffset);
        if (marker === null) throw new InvalidRecordError(`aborted transaction entry: no control batch (marker) at offset ${entry.lastOffset}`);
        if (marker.type !== 'ABORT' || marker.producerId !== entry.producerId) {
          throw new InvalidRecordError(`aborted transaction entry: the marker at offset ${entry.lastOffset} is ${marker.type} of producer ${marker.producerId}, not ABORT of producer ${entry.producerId}`);
        }
      } finally {
        segment.release();
      }
      segment.appendAbortedTxn(entry);
      if (segment !== this.activeSegment || entry.lastOffset < this.recoveryPointValue) await segment.persistTxnIndex({ sync: true });
    });
  }

  /**
   * Every recorded aborted transaction overlapping [fetchOffset, upperBoundOffset) — lastOffset ≥
   * fetchOffset and firstOffset < upperBoundOffset — in lastOffset order (Kafka's
   * collectAbortedTransactions, for a read_committed fetch). Searches from the segment holding
   * fetchOffset onward and stops at the first entry whose lastStableOffset reaches upperBoundOffset.
   * Earlier segments are not searched: an entry lives in the segment holding its marker, so every entry
   * of an earlier segment has lastOffset < fetchOffset. Empty when upperBoundOffset ≤ fetchOffset.
   */
  abortedTransactions(fetchOffset: number, upperBoundOffset: number): Promise<AbortedTxn[]> {
    try {
      this.assertReadable();
      assert.ok(Number.isSafeInteger(fetchOffset) && Number.isSafeInteger(upperBoundOffset), `aborted transactions range [${fetchOffset}, ${upperBoundOffset}) must be integers`);
    } catch (err) {
      return Promise.reject(err);
    }
    const found: AbortedTxn[] = [];
    if (upperBoundOffset <= fetchOffset) return Promise.resolve(found);
    for (const segment of this.segments.slice(this.segmentIndexFor(this.segments, fetchOffset))) {
      const { txns, complete } = segment.txnIndex.collect(fetchOffset, upperBoundOffset);
      found.push(...txns);
      if (complete) break;
    }
    return Promise.resolve(found);
  }

  // ---- retention and truncation ----

  /**
   * Deletes whole closed segments: those wholly below logStartOffset, then oldest first while the log
   * stays ≥ retention.bytes without them, then oldest first while their newest timestamp is older than
   * nowMs - retention.ms. Never deletes the active segment or data at or above the high watermark.
   */
  applyRetention(nowMs: number): Promise<RetentionResult> {
    return this.enqueueTask(async () => {
      let deleted = 0;
      const deletable = (): LogSegment | null => {
        const first = this.segments[0]!;
        return this.segments.length > 1 && first.nextOffset <= this.highWatermarkValue ? first : null;
      };
      while (deletable() !== null && this.segments[1]!.baseOffset <= this.logStartOffsetValue) {
        await this.deleteOldestSegment('log start offset');
        deleted++;
      }
      // cleanup.policy=compact keeps data by key, not by size or age (Kafka's rule).
      if (this.config.retentionBytes >= 0 && deletesByRetention(this.config)) {
        let totalBytes = this.sizeBytes;
        for (let first = deletable(); first !== null && totalBytes - first.sizeBytes >= this.config.retentionBytes; first = deletable()) {
          totalBytes -= first.sizeBytes;
          await this.deleteOldestSegment('retention.bytes');
          deleted++;
        }
      }
      if (this.config.retentionMs >= 0 && deletesByRetention(this.config)) {
        for (let first = deletable(); first !== null && nowMs - first.maxTimestamp > this.config.retentionMs; first = deletable()) {
          await this.deleteOldestSegment('retention.ms');
          deleted++;
        }
      }
      return { deletedSegments: deleted, logStartOffset: this.logStartOffsetValue };
    });
  }

  private async deleteOldestSegment(reason: string): Promise<void> {
    const segment = this.segments.shift()!;
    const newStart = this.segments[0]!.baseOffset;
    this.logger.info({ dir: this.dir, baseOffset: segment.baseOffset, sizeBytes: segment.sizeBytes, reason }, 'deleting segment');
    if (newStart > this.logStartOffsetValue) this.logStartOffsetValue = newStart;
    if (this.epochCache.truncateFromStart(this.logStartOffsetValue)) await this.writeEpochCheckpoint();
    await segment.delete();
  }

  /**
   * Advances the log start offset (Kafka's DeleteRecords) to `offset` ≤ high watermark and deletes the
   * segments wholly below it. Returns the new log start offset. Lower offsets are a no-op.
   */
  deleteRecordsBefore(offset: number): Promise<number> {
    if (offset > this.highWatermarkValue || offset < 0) {
      return Promise.reject(new OffsetOutOfRangeError(`cannot delete records before ${offset}: high watermark is ${this.highWatermarkValue}`, this.logStartOffsetValue, this.logEndOffsetValue));
    }
    return this.enqueueTask(async () => {
      if (offset > this.logStartOffsetValue) {
        this.logStartOffsetValue = offset;
        await this.checkpoints.logStartOffset(offset);
        if (this.epochCache.truncateFromStart(offset)) await this.writeEpochCheckpoint();
      }
      while (this.segments.length > 1 && this.segments[1]!.baseOffset <= this.logStartOffsetValue) {
        await this.deleteOldestSegment('log start offset');
      }
      return this.logStartOffsetValue;
    });
  }

  /**
   * Drops every batch containing an offset ≥ offset (followers truncating to the leader's log). When
   * offset falls inside a batch the whole batch goes, so the log end offset becomes that batch's base
   * offset. Lowers the high watermark and the epoch cache to match. Resolves with the new log end
   * offset. Await it before appending again.
   */
  truncateTo(offset: number): Promise<number> {
    try {
      this.assertWritable();
      assert.ok(Number.isSafeInteger(offset) && offset >= 0, `truncation offset ${offset} must be a non-negative integer`);
    } catch (err) {
      return Promise.reject(err);
    }
    if (offset >= this.nextOffsetToAssign) {
      // Nothing to remove but a leader epoch assigned at the end with no records (assignLeaderEpoch):
      // the leader we now follow did not see it, and a follower's latest epoch must be one it can match.
      if (offset === this.nextOffsetToAssign && this.epochCache.truncateFromEnd(offset)) {
        return Promise.all([this.writeEpochCheckpoint(), this.checkpoints.clearAssignedEpoch()]).then(() => this.logEndOffsetValue);
      }
      return Promise.resolve(this.logEndOffsetValue);
    }
    if (offset < this.logStartOffsetValue || offset <= this.segments[0]!.baseOffset) return this.truncateFullyAndStartAt(offset);
    this.nextOffsetToAssign = offset;
    if (this.epochCache.truncateFromEnd(offset)) this.epochCheckpointDirty = true;
    return this.enqueueTask(async () => {
      await this.checkpoints.clearAssignedEpoch();
      while (this.activeSegment.baseOffset >= offset) {
        const dropped = this.segments.pop()!;
        this.logger.info({ dir: this.dir, baseOffset: dropped.baseOffset, offset }, 'deleting segment above truncation offset');
        await dropped.delete();
      }
      const segment = this.activeSegment;
      await segment.closingTask?.catch(() => undefined);
      segment.closingTask = null;
      const logEndOffset = await segment.truncateTo(offset);
      this.logEndOffsetValue = logEndOffset;
      this.resyncNextOffset();
      this.highWatermarkValue = Math.min(this.highWatermarkValue, logEndOffset);
      this.epochCache.truncateFromEnd(logEndOffset);
      await this.writeEpochCheckpoint();
      await this.compactor.truncatedTo(logEndOffset);
      if (this.recoveryPointValue > logEndOffset) {
        this.recoveryPointValue = logEndOffset;
        await this.checkpoints.recoveryPoint(logEndOffset);
      }
      this.logger.info({ dir: this.dir, offset, logEndOffset }, 'truncated log');
      return logEndOffset;
    });
  }

  /** Deletes every segment and restarts the log empty at `offset` (log start = LEO = HW = offset). */
  truncateFullyAndStartAt(offset: number): Promise<number> {
    try {
      this.assertWritable();
      assert.ok(Number.isSafeInteger(offset) && offset >= 0, `start offset ${offset} must be a non-negative integer`);
    } catch (err) {
      return Promise.reject(err);
    }
    this.nextOffsetToAssign = offset;
    this.epochCache.clear();
    this.epochCheckpointDirty = true;
    return this.enqueueTask(async () => {
      await this.checkpoints.clearAssignedEpoch();
      const old = this.segments.splice(0, this.segments.length);
      for (const segment of old) await segment.delete();
      this.segments.push(await LogSegment.create(this.dir, offset, this.config));
      this.logStartOffsetValue = offset;
      this.logEndOffsetValue = offset;
      this.resyncNextOffset();
      this.highWatermarkValue = offset;
      this.recoveryPointValue = offset;
      await this.writeEpochCheckpoint();
      await this.checkpoints.logStartOffset(offset);
      await this.checkpoints.recoveryPoint(offset);
      await this.compactor.restartedAt(offset);
      await this.checkpointHighWatermark();
      await fsyncDir(this.dir);
      this.logger.info({ dir: this.dir, offset }, 'truncated fully');
      return offset;
    });
  }

  // ---- compaction (log-compactor.ts) ----

  /** Offsets below it are compacted; the next pass starts there. */
  get cleanerFirstDirtyOffset(): number {
    return this.compactor.firstDirtyOffset;
  }

  /**
   * Runs the cleaner once over the closed segments (cleanup.policy=compact or compact,delete): as many
   * passes as the dirty, cleanable range needs. Appends and reads continue meanwhile; only the final
   * swap runs on the writer queue. Calls run one at a time. Resolves with what it did; rejects with
   * LogUnavailableError when the log is not open, and fails the log on an I/O error during the swap.
   */
  compact(nowMs: number, opts: CompactOptions = {}): Promise<CleanResult> {
    try {
      this.assertWritable();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.compactor.compact(nowMs, opts);
  }

  /** The compactor's view of this log: what it may read and the few changes it may make. */
  private compactionHandle(): CompactionHandle {
    return {
      dir: this.dir,
      logger: this.logger,
      config: () => this.config,
      segments: () => this.segments,
      logStartOffset: () => this.logStartOffsetValue,
      highWatermark: () => this.highWatermarkValue,
      isOpen: () => this.state === 'open',
      assertWritable: () => this.assertWritable(),
      onWriterQueue: (run) => this.enqueueTask(run),
      replaceSegment: (previous, next) => {
        const at = this.segments.indexOf(previous);
        assert.ok(at >= 0 && at < this.segments.length - 1, `segment ${previous.baseOffset} to replace is not a closed segment of the log`);
        this.segments[at] = next;
      },
      fail: (err) => this.fail(err),
      persistCheckpoint: (checkpoint) => this.checkpoints.cleaner(checkpoint),
    };
  }

  // ---- lifecycle ----

  /**
   * Writes everything queued, fsyncs, persists indexes and checkpoints, marks a clean shutdown and
   * releases the files. Idempotent; later appends and reads fail with LogUnavailableError.
   */
  close(): Promise<void> {
    if (this.closePromise !== null) return this.closePromise;
    const wasFailed = this.state === 'failed';
    if (!wasFailed) this.transition('closing');
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    if (this.highWatermarkTimer !== null) clearInterval(this.highWatermarkTimer);
    this.closePromise = (async () => {
      if (!wasFailed) {
        await this.enqueueTask(async () => {
          await Promise.all([...this.backgroundTasks]);
          await this.flushSegments();
          for (const segment of this.segments) await segment.persistIndexes({ sync: true });
          if (this.epochCheckpointDirty) await this.writeEpochCheckpoint();
          await this.checkpoints.recoveryPoint(this.logEndOffsetValue);
          await this.checkpointHighWatermark();
          await writeFileAtomic(path.join(this.dir, CLEAN_SHUTDOWN_FILE), '');
        });
      } else {
        await Promise.all([...this.backgroundTasks]);
      }
      for (const segment of this.segments) await segment.close();
      if (!wasFailed) this.transition('closed');
    })();
    return this.closePromise;
  }

  /**
   * Closes and removes the log (a committed deletion). The directory is first renamed to
   * `<dir>.<32 hex>-delete` (one atomic step, as Kafka does), so a crash during the removal leaves a
   * name no one opens as this partition's log; the broker removes such leftovers at startup.
   */
  async delete(): Promise<void> {
    await this.close().catch(() => undefined);
    const deleted = setAsideDirPath(this.dir, 'delete');
    try {
      await rename(this.dir, deleted);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await rm(deleted, { recursive: true, force: true });
  }

  private transition(to: LogState): void {
    this.logger.info({ dir: this.dir, from: this.state, to }, 'log state');
    this.state = to;
  }

  private fail(err: unknown): void {
    if (this.state === 'failed') return;
    this.failure = err;
    this.logger.error({ dir: this.dir, err }, 'log failed on an I/O error; it must be reopened');
    this.transition('failed');
    this.onFailure?.(err);
  }

  private unavailable(): LogUnavailableError {
    return new LogUnavailableError(`log ${this.dir} is ${this.state}`, { cause: this.failure ?? undefined });
  }

  private rejectQueued(err: unknown): void {
    this.writer.rejectAll(err);
  }

  private assertWritable(): void {
    if (this.state !== 'open') throw this.unavailable();
  }

  private assertReadable(): void {
    if (this.state === 'closed' || this.state === 'failed') throw this.unavailable();
  }

  private async writeEpochCheckpoint(): Promise<void> {
    this.epochCheckpointDirty = false;
    await this.checkpoints.leaderEpochs(this.epochCache.serialize());
  }
}
