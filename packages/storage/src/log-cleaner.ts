// Log compaction (cleanup.policy=compact): keep the last record per key. Kafka's LogCleaner, for one
// partition, driven by PartitionLog.compact(nowMs).
//
// Ranges (offsets, half-open):
//   [logStartOffset, firstDirtyOffset)        clean: compacted by earlier passes
//   [firstDirtyOffset, cleanableEndOffset)    dirty and cleanable: closed segments wholly below the high
//                                             watermark whose records are all older than min.compaction.lag.ms
//   [cleanableEndOffset, logEndOffset)        never touched: the active segment and anything newer
//
// One pass: build key -> last offset over a prefix [firstDirtyOffset, mapEndOffset) of the dirty range
// that fits cleanerDedupeBufferBytes (whole batches; at least one), then rewrite every segment below
// mapEndOffset keeping a record unless a later offset of its key is in the map, or it is a tombstone
// (null value) whose timestamp is more than delete.retention.ms old. Offsets, timestamps, epochs and
// producer fields are kept; a batch keeps its lastOffsetDelta (so its offset span) with fewer records,
// and a batch left empty is dropped. Records after mapEndOffset are kept as they are (the next pass
// covers them).
//
// Choices:
// - Keyless records are kept (Kafka rejects them at produce time on compacted topics; the broker may
//   do that later). Control batches (transaction markers) are kept whole, and transactional data is
//   compacted like any other: aborted transactions are not removed.
// - A batch the cleaner cannot read (a codec other than none/gzip/lz4, or records that do not parse)
//   is kept whole and its keys are not put in the map, so nothing is dropped on its account.
// - Segments are rewritten one for one (Kafka merges small neighbours); a segment emptied by cleaning
//   stays as an empty file, so segment base offsets and the log start offset never move.
// - The tombstone horizon is by record timestamp (Kafka uses the time the cleaner first saw the batch).
// - max.compaction.lag.ms forces a clean when the first dirty segment's newest record is older than it.
//
// Crash safety (the swap protocol; recovery is in log-loader.ts, finishCleanerSwaps):
//   1. write `<base>.{log,index,timeindex}.cleaned` for every segment that changes; fsync each;
//   2. checkpoint compactedEndOffset = mapEndOffset (gaps become legal below it);
//   3. oldest segment first: rename index, timeindex, then log `.cleaned` -> `.swap`, fsync the directory
//      (the log's rename commits that segment);
//   4. rename each `.swap` over the live file (rename(2) replaces atomically; an open reader keeps the old
//      file), load the new segment, and release the old one when its readers are done;
//   5. checkpoint firstDirtyOffset = mapEndOffset.
// A crash anywhere leaves each segment wholly old or wholly cleaned, cleaned ones forming a prefix of the
// segments being rewritten: superseded records only ever go from older segments, and a tombstone only
// goes once every older segment (holding the values it hides) is cleaned. Either way each key reads
// to the same last value.
import type { LogConfig } from './log-config.js';
import { isCompacted } from './log-config.js';
import { readBatchRecords, rebuildBatch, type StoredRecord } from './record-reader.js';

/** Default bound on the key -> offset map, bytes (Kafka's log.cleaner.dedupe.buffer.size). */
export const DEFAULT_CLEANER_DEDUPE_BUFFER_BYTES = 128 * 1024 * 1024;
/**
 * Estimated bytes per map entry besides the key: a V8 Map slot, the one-byte string header and the
 * number. An estimate: the limit bounds memory to within a small factor, it does not meter it.
 */
export const OFFSET_MAP_ENTRY_OVERHEAD_BYTES = 64;

/** What planning needs of a segment. */
export interface SegmentSummary {
  readonly baseOffset: number;
  /** One past the last offset it holds (after compaction, possibly below the next segment's base). */
  readonly nextOffset: number;
  readonly sizeBytes: number;
  /** Largest batch maxTimestamp, -1 when empty. */
  readonly maxTimestamp: number;
}

export type CleaningPlan =
  | { readonly action: 'skip'; readonly reason: string; readonly dirtyRatio: number }
  | {
      readonly action: 'clean';
      readonly firstDirtyOffset: number;
      readonly cleanableEndOffset: number;
      readonly dirtyRatio: number;
      /** max.compaction.lag.ms forced the clean below min.cleanable.dirty.ratio. */
      readonly forced: boolean;
    };

/**
 * Decides whether to clean and which range (pure). `segments` are all segments, oldest first, the last
 * being the active one. Cleans when dirty bytes / (clean + dirty bytes) over the cleanable segments
 * exceeds min.cleanable.dirty.ratio, or max.compaction.lag.ms forces it.
 */
export function planCleaning(input: {
  readonly segments: readonly SegmentSummary[];
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly firstDirtyOffset: number;
  readonly config: LogConfig;
  readonly nowMs: number;
}): CleaningPlan {
  const { segments, config, nowMs } = input;
  if (!isCompacted(config)) return { action: 'skip', reason: 'cleanup.policy=delete', dirtyRatio: 0 };
  const closed = segments.slice(0, -1);
  let cleanableEndOffset = segments.at(-1)?.baseOffset ?? input.logStartOffset;
  for (const segment of closed) {
    const tooNew = config.minCompactionLagMs > 0 && segment.maxTimestamp > nowMs - config.minCompactionLagMs;
    if (segment.nextOffset > input.highWatermark || tooNew) {
      cleanableEndOffset = segment.baseOffset;
      break;
    }
  }
  const firstDirtyOffset = Math.max(input.firstDirtyOffset, input.logStartOffset);
  let cleanBytes = 0;
  let dirtyBytes = 0;
  let firstDirty: SegmentSummary | null = null;
  for (const segment of closed) {
    if (segment.baseOffset >= cleanableEndOffset) break;
    if (segment.nextOffset <= firstDirtyOffset) {
      cleanBytes += segment.sizeBytes;
    } else {
      dirtyBytes += segment.sizeBytes;
      firstDirty ??= segment;
    }
  }
  const dirtyRatio = dirtyBytes === 0 ? 0 : dirtyBytes / (cleanBytes + dirtyBytes);
  if (firstDirty === null || firstDirtyOffset >= cleanableEndOffset) return { action: 'skip', reason: 'nothing cleanable is dirty', dirtyRatio };
  const forced = Number.isFinite(config.maxCompactionLagMs) && firstDirty.maxTimestamp >= 0 && firstDirty.maxTimestamp <= nowMs - config.maxCompactionLagMs;
  if (dirtyRatio <= config.minCleanableDirtyRatio && !forced) {
    return { action: 'skip', reason: `dirty ratio ${dirtyRatio.toFixed(3)} <= min.cleanable.dirty.ratio ${config.minCleanableDirtyRatio}`, dirtyRatio };
  }
  return { action: 'clean', firstDirtyOffset, cleanableEndOffset, dirtyRatio, forced };
}

/** Key (as a one-byte-per-byte string) -> last offset, bounded in estimated bytes. */
export class OffsetMap {
  private readonly map = new Map<string, number>();
  private usedBytes = 0;

  constructor(readonly bytesMax: number) {}

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.usedBytes;
  }

  get(key: Buffer): number | undefined {
    return this.map.get(key.toString('latin1'));
  }

  /**
   * Adds one batch's keyed records if they fit (the first batch always does: a pass must make progress).
   * Returns false, adding nothing, when they do not.
   */
  tryAddBatch(records: readonly StoredRecord[]): boolean {
    let addedBytes = 0;
    const fresh = new Set<string>();
    for (const record of records) {
      if (record.key === null) continue;
      const key = record.key.toString('latin1');
      if (!this.map.has(key) && !fresh.has(key)) {
        fresh.add(key);
        addedBytes += key.length + OFFSET_MAP_ENTRY_OVERHEAD_BYTES;
      }
    }
    if (this.map.size > 0 && this.usedBytes + addedBytes > this.bytesMax) return false;
    for (const record of records) if (record.key !== null) this.map.set(record.key.toString('latin1'), record.offset);
    this.usedBytes += addedBytes;
    return true;
  }
}

export interface BatchCleanStats {
  recordsRemoved: number;
  tombstonesRemoved: number;
  batchesRemoved: number;
  unreadableBatches: number;
}

/**
 * What one stored batch becomes (pure): the same bytes, a rebuilt batch, or null (dropped). `mapEndOffset`
 * bounds the pass: batches at or after it are kept as they are.
 */
export function cleanBatch(
  batch: Buffer,
  opts: { readonly map: OffsetMap; readonly mapEndOffset: number; readonly tombstoneHorizonMs: number },
  stats: BatchCleanStats,
): Buffer | null {
  const parsed = readBatchRecords(batch);
  if (parsed.kind === 'unreadable') {
    stats.unreadableBatches += 1;
    return batch;
  }
  if (parsed.baseOffset >= opts.mapEndOffset || parsed.isControl) return batch;
  const kept = parsed.records.filter((record) => {
    if (record.key === null) return true;
    const latest = opts.map.get(record.key);
    if (latest !== undefined && latest > record.offset) return false;
    if (record.isTombstone && record.timestamp < opts.tombstoneHorizonMs) {
      stats.tombstonesRemoved += 1;
      return false;
    }
    return true;
  });
  stats.recordsRemoved += parsed.records.length - kept.length;
  if (kept.length === parsed.records.length) return batch;
  if (kept.length === 0) {
    stats.batchesRemoved += 1;
    return null;
  }
  return rebuildBatch(batch, parsed, kept);
}
