// Compaction of one partition log (cleanup.policy=compact): the pure decisions are in log-cleaner.ts;
// this is their I/O shell — it reads closed segments, writes `.cleaned` files beside them and swaps
// them in with the crash-safe protocol of docs/storage.md. It works through a CompactionHandle the log
// lends it (its segments, offsets, writer queue and failure path), never through the log's fields,
// and owns the cleaner's checkpoint (cleaner-offset-checkpoint) and the one-at-a-time call chain.
import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import { ATTRIBUTES_OFFSET, batchesIn, CONTROL_FLAG_MASK, PRODUCER_ID_OFFSET } from '@tributary/record-format';
import { MAX_TIMESTAMP_OFFSET, readInt64 } from './batch-header.js';
import { type CleanerCheckpoint, fsyncDir } from './checkpoint-file.js';
import { CLEANED_SUFFIX, CleanedSegmentWriter, removeStage, SEGMENT_SUFFIXES, segmentPath, SWAP_SUFFIX } from './cleaned-segment.js';
import { AbortedRanges, type BatchCleanStats, cleanBatch, OffsetMap, planCleaning, skipsKeyMap, TxnCleanState } from './log-cleaner.js';
import type { LogConfig } from './log-config.js';
import { LogSegment } from './log-segment.js';
import type { Logger } from './logger.js';
import { readBatchRecords } from './record-reader.js';
import type { AbortedTxn } from './txn-index.js';

/** Bytes the cleaner reads from a segment at a time. */
const CLEANER_READ_CHUNK_BYTES = 1024 * 1024;

export interface CompactOptions {
  /** Overrides the log's cleanerDedupeBufferBytes for this call. */
  readonly dedupeBufferBytes?: number;
  /**
   * The partition's last stable offset (the broker's LSO): nothing at or beyond it is cleaned, so every
   * transaction the cleaner sees is decided. Default: the high watermark (right only for a partition
   * without transactions). Must be a non-negative integer; above the high watermark it changes nothing.
   */
  readonly lastStableOffset?: number;
  /**
   * Observes the swap protocol (tests): called after each durable step; a test copies the directory
   * here to model a crash at that point. Steps run on the writer queue from `committed` on.
   */
  readonly onStep?: (step: CleanerStep) => void | Promise<void>;
}

export type CleanerStep =
  | { readonly kind: 'cleaned-written'; readonly pass: number; readonly baseOffsets: readonly number[] }
  | { readonly kind: 'end-checkpointed'; readonly pass: number; readonly compactedEndOffset: number }
  | { readonly kind: 'committed'; readonly pass: number; readonly baseOffset: number }
  | { readonly kind: 'swapped'; readonly pass: number; readonly baseOffset: number }
  | { readonly kind: 'checkpointed'; readonly pass: number; readonly firstDirtyOffset: number };

export interface CleanResult {
  /** `skipped`: nothing to do (reason says why); `aborted`: segments changed under the cleaner (retention, truncation, close). */
  readonly outcome: 'cleaned' | 'skipped' | 'aborted';
  readonly reason: string | null;
  readonly dirtyRatio: number;
  readonly passes: number;
  /** The cleaner's checkpoint after the call: offsets below it are clean. */
  readonly firstDirtyOffset: number;
  readonly segmentsRewritten: number;
  /** Sizes of the rewritten segments before and after, bytes. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Records removed, tombstones included. */
  readonly recordsRemoved: number;
  readonly tombstonesRemoved: number;
  readonly batchesRemoved: number;
  /** Batches kept whole because the cleaner could not read their records. */
  readonly unreadableBatches: number;
  /** Records of aborted transactions removed (included in recordsRemoved). */
  readonly abortedRecordsRemoved: number;
  /** Transaction markers removed (included in batchesRemoved). */
  readonly markersRemoved: number;
}

interface SegmentRewrite {
  readonly segment: LogSegment;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Offsets of the markers the rewrite drops: their txn index entries go too. */
  readonly droppedMarkers: ReadonlySet<number>;
}

/** What a log lends its compactor. Calls come from the compactor's own async work, one call at a time. */
export interface CompactionHandle {
  readonly dir: string;
  readonly logger: Logger;
  /** The config in force (it may change between passes). */
  config(): LogConfig;
  /** The live segments, oldest first; the last is the active one. Read-only: replaceSegment changes them. */
  segments(): readonly LogSegment[];
  logStartOffset(): number;
  highWatermark(): number;
  isOpen(): boolean;
  /** Throws LogUnavailableError unless the log is open. */
  assertWritable(): void;
  /** Runs `run` on the log's writer queue, after everything queued before it. */
  onWriterQueue<T>(run: () => Promise<T>): Promise<T>;
  /** On the writer queue only: puts `next` where the closed segment `previous` is. */
  replaceSegment(previous: LogSegment, next: LogSegment): void;
  /** The swap failed half-way on an I/O error: the log must be reopened (recovery finishes the swap). */
  fail(err: unknown): void;
  /** Persists the cleaner's checkpoint (atomic). */
  persistCheckpoint(checkpoint: CleanerCheckpoint): Promise<void>;
}

export class LogCompactor {
  private checkpoint: CleanerCheckpoint;
  private readonly dedupeBufferBytes: number;
  /** The compaction in progress; calls run one after another. */
  private cleaning: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly log: CompactionHandle,
    init: { readonly checkpoint: CleanerCheckpoint; readonly dedupeBufferBytes: number },
  ) {
    assert.ok(init.dedupeBufferBytes > 0, `cleanerDedupeBufferBytes ${init.dedupeBufferBytes} must be > 0`);
    this.checkpoint = init.checkpoint;
    this.dedupeBufferBytes = init.dedupeBufferBytes;
  }

  /** Offsets below it are compacted; the next pass starts there. */
  get firstDirtyOffset(): number {
    return this.checkpoint.firstDirtyOffset;
  }

  /** See PartitionLog.compact. */
  compact(nowMs: number, opts: CompactOptions): Promise<CleanResult> {
    const run = this.cleaning.catch(() => undefined).then(() => this.runCleaner(nowMs, opts));
    this.cleaning = run;
    return run;
  }

  /** The log was truncated to end at `logEndOffset` (writer queue): nothing at or above it is clean. */
  async truncatedTo(logEndOffset: number): Promise<void> {
    if (this.checkpoint.firstDirtyOffset > logEndOffset) await this.writeCheckpoint({ ...this.checkpoint, firstDirtyOffset: logEndOffset });
  }

  /** The log restarted empty at `offset` (writer queue). */
  async restartedAt(offset: number): Promise<void> {
    await this.writeCheckpoint({ firstDirtyOffset: offset, compactedEndOffset: offset });
  }

  private async runCleaner(nowMs: number, opts: CompactOptions): Promise<CleanResult> {
    this.log.assertWritable();
    const lastStableOffset = opts.lastStableOffset ?? this.log.highWatermark();
    assert.ok(Number.isSafeInteger(lastStableOffset) && lastStableOffset >= 0, `lastStableOffset ${lastStableOffset} must be a non-negative integer`);
    const stats: BatchCleanStats = { recordsRemoved: 0, tombstonesRemoved: 0, batchesRemoved: 0, unreadableBatches: 0, abortedRecordsRemoved: 0, markersRemoved: 0 };
    const totals = { passes: 0, segmentsRewritten: 0, bytesBefore: 0, bytesAfter: 0 };
    const plan = planCleaning({
      segments: this.log.segments().map((s) => ({ baseOffset: s.baseOffset, nextOffset: s.nextOffset, sizeBytes: s.sizeBytes, maxTimestamp: s.maxTimestamp })),
      logStartOffset: this.log.logStartOffset(),
      highWatermark: this.log.highWatermark(),
      lastStableOffset,
      firstDirtyOffset: this.checkpoint.firstDirtyOffset,
      config: this.log.config(),
      nowMs,
    });
    const result = (outcome: CleanResult['outcome'], reason: string | null): CleanResult => ({
      outcome,
      reason,
      dirtyRatio: plan.dirtyRatio,
      firstDirtyOffset: this.checkpoint.firstDirtyOffset,
      ...totals,
      ...stats,
    });
    if (plan.action === 'skip') return result('skipped', plan.reason);
    this.log.logger.info({ dir: this.log.dir, ...plan }, 'cleaning log');
    const bytesMax = opts.dedupeBufferBytes ?? this.dedupeBufferBytes;
    assert.ok(bytesMax > 0, `dedupeBufferBytes ${bytesMax} must be > 0`);
    const tombstoneHorizonMs = nowMs - this.log.config().deleteRetentionMs;
    let firstDirty = plan.firstDirtyOffset;
    while (firstDirty < plan.cleanableEndOffset) {
      this.log.assertWritable();
      const pass = ++totals.passes;
      const segments = this.log.segments().slice(0, -1).filter((s) => s.baseOffset < plan.cleanableEndOffset);
      for (const segment of segments) segment.acquire();
      let rewrites: SegmentRewrite[] = [];
      try {
        // A just-rolled segment may still be persisting its indexes; that must not overwrite ours.
        for (const segment of segments) await segment.closingTask?.catch(() => undefined);
        const aborted = new AbortedRanges(this.log.segments().flatMap((s) => s.txnIndex.entries));
        const map = new OffsetMap(bytesMax);
        const mapEndOffset = await this.buildOffsetMap(segments, map, { firstDirty, endOffset: plan.cleanableEndOffset, aborted });
        assert.ok(mapEndOffset > firstDirty, `cleaner pass made no progress at ${firstDirty}`);
        const passSegments = segments.filter((s) => s.baseOffset < mapEndOffset);
        const txn = new TxnCleanState(aborted, await lastDataBatchOfProducers(passSegments), tombstoneHorizonMs);
        rewrites = await this.writeCleanedSegments(passSegments, { map, mapEndOffset, tombstoneHorizonMs, txn }, stats);
        await opts.onStep?.({ kind: 'cleaned-written', pass, baseOffsets: rewrites.map((r) => r.segment.baseOffset) });
        const compactedEndOffset = Math.max(this.checkpoint.compactedEndOffset, mapEndOffset);
        if (compactedEndOffset > this.checkpoint.compactedEndOffset) {
          await this.writeCheckpoint({ ...this.checkpoint, compactedEndOffset });
          await opts.onStep?.({ kind: 'end-checkpointed', pass, compactedEndOffset });
        }
        const committed = await this.log.onWriterQueue(() => this.swapInCleaned(rewrites, { pass, mapEndOffset, onStep: opts.onStep }));
        if (!committed) {
          for (const rewrite of rewrites) await removeStage(this.log.dir, rewrite.segment.baseOffset, CLEANED_SUFFIX);
          this.log.logger.warn({ dir: this.log.dir, pass }, 'segments changed while cleaning; abandoned the pass');
          return result('aborted', 'segments changed while cleaning');
        }
        for (const rewrite of rewrites) {
          totals.segmentsRewritten += 1;
          totals.bytesBefore += rewrite.bytesBefore;
          totals.bytesAfter += rewrite.bytesAfter;
        }
        firstDirty = mapEndOffset;
      } catch (err) {
        if (this.log.isOpen()) for (const rewrite of rewrites) await removeStage(this.log.dir, rewrite.segment.baseOffset, CLEANED_SUFFIX).catch(() => undefined);
        throw err;
      } finally {
        for (const segment of segments) segment.release();
      }
    }
    this.log.logger.info({ dir: this.log.dir, ...totals, ...stats, firstDirtyOffset: firstDirty }, 'cleaned log');
    return result('cleaned', null);
  }

  /**
   * Fills `map` from the dirty batches at or after `firstDirty`, stopping before the first batch whose
   * keys do not fit. Returns the end of the range the map covers (a batch's base offset, or `endOffset`).
   */
  private async buildOffsetMap(
    segments: readonly LogSegment[],
    map: OffsetMap,
    range: { readonly firstDirty: number; readonly endOffset: number; readonly aborted: AbortedRanges },
  ): Promise<number> {
    const { firstDirty, endOffset } = range;
    for (const segment of segments) {
      if (segment.nextOffset <= firstDirty) continue;
      const start = await segment.findBatch(firstDirty);
      if (start === null) continue;
      let stop: number | null = null;
      await forEachStoredBatch(segment, start.position, (batch, baseOffset, lastOffset) => {
        if (lastOffset < firstDirty) return true;
        // Markers carry no keys; aborted records supersede nothing.
        if (skipsKeyMap(batch, range.aborted)) return true;
        const parsed = readBatchRecords(batch);
        if (parsed.kind === 'unreadable') return true;
        if (map.tryAddBatch(parsed.records)) return true;
        stop = baseOffset;
        return false;
      });
      if (stop !== null) return stop;
    }
    return endOffset;
  }

  /** Writes `.cleaned` files for each segment that changes; unchanged segments are left alone. */
  private async writeCleanedSegments(
    segments: readonly LogSegment[],
    opts: Parameters<typeof cleanBatch>[1],
    stats: BatchCleanStats,
  ): Promise<SegmentRewrite[]> {
    const rewrites: SegmentRewrite[] = [];
    try {
      for (const segment of segments) {
        const writer = await CleanedSegmentWriter.create(this.log.dir, segment.baseOffset, this.log.config());
        let changed = false;
        const droppedMarkers = new Set<number>();
        try {
          await forEachStoredBatch(segment, 0, async (batch, baseOffset, lastOffset) => {
            const markersBefore = stats.markersRemoved;
            const out = cleanBatch(batch, opts, stats);
            if (out !== batch) changed = true;
            if (stats.markersRemoved > markersBefore) droppedMarkers.add(lastOffset);
            if (out !== null) await writer.append(out, baseOffset, readInt64(out, MAX_TIMESTAMP_OFFSET));
            return true;
          });
          if (!changed) {
            await writer.discard();
            continue;
          }
          const bytesAfter = await writer.finish();
          rewrites.push({ segment, bytesBefore: segment.sizeBytes, bytesAfter, droppedMarkers });
        } catch (err) {
          await writer.discard();
          throw err;
        }
      }
    } catch (err) {
      for (const rewrite of rewrites) await removeStage(this.log.dir, rewrite.segment.baseOffset, CLEANED_SUFFIX).catch(() => undefined);
      throw err;
    }
    return rewrites;
  }

  /**
   * The swap (writer queue): commits each rewrite oldest first (`.cleaned` -> `.swap`, log last, then a
   * directory fsync), then renames the `.swap` files over the live ones and swaps the loaded segments
   * in. Returns false, touching nothing, when a segment was removed or became active meanwhile.
   */
  private async swapInCleaned(
    rewrites: readonly SegmentRewrite[],
    opts: { readonly pass: number; readonly mapEndOffset: number; readonly onStep: CompactOptions['onStep'] },
  ): Promise<boolean> {
    if (!this.log.isOpen()) return false;
    for (const { segment } of rewrites) {
      const at = this.log.segments().indexOf(segment);
      if (at < 0 || at === this.log.segments().length - 1) return false;
    }
    try {
      for (const { segment } of rewrites) {
        for (const suffix of SEGMENT_SUFFIXES) await rename(segmentPath(this.log.dir, segment.baseOffset, suffix, CLEANED_SUFFIX), segmentPath(this.log.dir, segment.baseOffset, suffix, SWAP_SUFFIX));
        await fsyncDir(this.log.dir);
        await opts.onStep?.({ kind: 'committed', pass: opts.pass, baseOffset: segment.baseOffset });
      }
      for (const { segment, droppedMarkers } of rewrites) {
        for (const suffix of SEGMENT_SUFFIXES) await rename(segmentPath(this.log.dir, segment.baseOffset, suffix, SWAP_SUFFIX), segmentPath(this.log.dir, segment.baseOffset, suffix));
        const loaded = await LogSegment.load({
          dir: this.log.dir,
          baseOffset: segment.baseOffset,
          config: this.log.config(),
          recover: false,
          logger: this.log.logger,
          onBatch: () => undefined,
          compactedEndOffset: this.checkpoint.compactedEndOffset,
        });
        // The txn index moves over (entries added meanwhile included) without the dropped markers' entries.
        segment.txnIndex.retain((txn: AbortedTxn) => !droppedMarkers.has(txn.lastOffset));
        await loaded.segment.adoptTxnIndex(segment.txnIndex);
        this.log.replaceSegment(segment, loaded.segment);
        // The old file is unlinked already; its handle closes once the last reader (the cleaner too) is done.
        segment.close().catch((err: unknown) => this.log.logger.warn({ dir: this.log.dir, baseOffset: segment.baseOffset, err }, 'closing a replaced segment failed'));
        await opts.onStep?.({ kind: 'swapped', pass: opts.pass, baseOffset: segment.baseOffset });
      }
      await fsyncDir(this.log.dir);
      await this.writeCheckpoint({ ...this.checkpoint, firstDirtyOffset: Math.max(this.checkpoint.firstDirtyOffset, opts.mapEndOffset) });
      await opts.onStep?.({ kind: 'checkpointed', pass: opts.pass, firstDirtyOffset: this.checkpoint.firstDirtyOffset });
      return true;
    } catch (err) {
      // The files are in some state recovery completes or rolls back; the live log is not trustworthy.
      this.log.fail(err);
      throw err;
    }
  }

  private async writeCheckpoint(checkpoint: CleanerCheckpoint): Promise<void> {
    this.checkpoint = checkpoint;
    await this.log.persistCheckpoint(checkpoint);
  }
}

/**
 * producerId -> base offset of its last data batch in `segments` (idempotent and transactional
 * producers; markers excluded, as Kafka's lastDataOffset): a header walk.
 */
async function lastDataBatchOfProducers(segments: readonly LogSegment[]): Promise<Map<number, number>> {
  const last = new Map<number, number>();
  for (const segment of segments) {
    await forEachStoredBatch(segment, 0, (batch, baseOffset) => {
      const producerId = readInt64(batch, PRODUCER_ID_OFFSET);
      if (producerId >= 0 && (batch.readInt16BE(ATTRIBUTES_OFFSET) & CONTROL_FLAG_MASK) === 0) last.set(producerId, baseOffset);
      return true;
    });
  }
  return last;
}

/**
 * Calls `visit(batch, baseOffset, lastOffset)` for each stored batch of `segment` from `position`, in
 * order, until it returns false. `batch` is a view valid during the call. Reads in chunks.
 */
async function forEachStoredBatch(
  segment: LogSegment,
  position: number,
  visit: (batch: Buffer, baseOffset: number, lastOffset: number) => boolean | Promise<boolean>,
): Promise<void> {
  let at = position;
  while (at < segment.sizeBytes) {
    const { records } = await segment.readBatches(at, { maxBytes: CLEANER_READ_CHUNK_BYTES, maxOffset: Number.MAX_SAFE_INTEGER, mustTakeOne: true });
    assert.ok(records.length > 0, `no batch readable at position ${at} of segment ${segment.baseOffset}`);
    // The log's own bytes, CRC-checked when they were appended or recovered: framing only.
    for (const h of batchesIn(records, { verifyCrc: false })) {
      if (!(await visit(records.subarray(h.position, h.position + h.sizeBytes), h.baseOffset, h.lastOffset))) return;
    }
    at += records.length;
  }
}
