// Log compaction (cleanup.policy=compact): keep the last record per key. Kafka's LogCleaner, for one
// partition, driven by PartitionLog.compact(nowMs).
//
// Ranges (offsets, half-open):
//   [logStartOffset, firstDirtyOffset)        clean: compacted by earlier passes
//   [firstDirtyOffset, cleanableEndOffset)    dirty and cleanable: closed segments wholly below the high
//                                             watermark and the last stable offset (the broker's LSO: every
//                                             transaction below it is decided) whose records are all older
//                                             than min.compaction.lag.ms
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
// Transactions (Kafka's LogCleaner rules; TxnCleanState walks the pass's batches in offset order):
// - Records of aborted transactions go: a transactional data batch of producer P inside an aborted
//   transaction's range [firstOffset, lastOffset] (from the txn indexes) loses its records, and aborted
//   records never enter the key map (they supersede nothing).
// - Committed transactional data is compacted like any other; batch headers (producer id, epoch,
//   sequence) are kept as they are.
// - A control batch (COMMIT or ABORT marker) stays while any batch of its transaction remains before
//   it, an empty one too (Kafka's rule: a producer-state rebuild opens a transaction at any of its
//   batches and only the marker ends it, else the LSO stops there for ever); once none does, it goes
//   when its timestamp is more than delete.retention.ms old (like a tombstone), and its txn index entry
//   goes with it.
// - The last data batch of each producer (producerId ≥ 0) in the pass is never dropped: when all its
//   records go it stays as an empty batch (recordCount 0, header unchanged), as in Kafka, so a
//   producer-state rebuild from the log still finds the producer's last epoch and sequence. Once a
//   later batch of the producer is in the pass, the empty one goes. Followers accept such batches
//   (appendAsFollower); consumers step over them by lastOffset.
//
// Choices:
// - Keyless records are kept (Kafka rejects them at produce time on compacted topics; the broker may
//   do that later).
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
import { ATTRIBUTES_OFFSET, CONTROL_FLAG_MASK, PRODUCER_ID_OFFSET, TRANSACTIONAL_FLAG_MASK } from '@tributary/record-format';
import { MAX_TIMESTAMP_OFFSET, readInt64 } from './batch-header.js';
import type { LogConfig } from './log-config.js';
import { isCompacted } from './log-config.js';
import { type ReadableBatch, readBatchRecords, rebuildBatch, type StoredRecord } from './record-reader.js';
import type { AbortedTxn } from './txn-index.js';

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
  /** Nothing at or beyond it is cleaned (the partition's LSO; the high watermark when no transactions). */
  readonly lastStableOffset: number;
  readonly firstDirtyOffset: number;
  readonly config: LogConfig;
  readonly nowMs: number;
}): CleaningPlan {
  const { segments, config, nowMs } = input;
  if (!isCompacted(config)) return { action: 'skip', reason: 'cleanup.policy=delete', dirtyRatio: 0 };
  const closed = segments.slice(0, -1);
  let cleanableEndOffset = segments.at(-1)?.baseOffset ?? input.logStartOffset;
  const upperBoundOffset = Math.min(input.highWatermark, input.lastStableOffset);
  for (const segment of closed) {
    const tooNew = config.minCompactionLagMs > 0 && segment.maxTimestamp > nowMs - config.minCompactionLagMs;
    if (segment.nextOffset > upperBoundOffset || tooNew) {
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
  /** Records removed because their transaction was aborted (also counted in recordsRemoved). */
  abortedRecordsRemoved: number;
  /** Control batches (transaction markers) removed (also counted in batchesRemoved). */
  markersRemoved: number;
}

/** Aborted transactions by producer, for "is this data batch aborted?" (pure lookup). */
export class AbortedRanges {
  private readonly byProducer = new Map<number, AbortedTxn[]>();

  /** `txns` in lastOffset order (as the txn indexes list them). */
  constructor(txns: readonly AbortedTxn[]) {
    for (const txn of txns) {
      const list = this.byProducer.get(txn.producerId) ?? [];
      list.push(txn);
      this.byProducer.set(txn.producerId, list);
    }
  }

  /** Whether offset `offset` of producer `producerId` lies in one of its aborted transactions. */
  isAborted(producerId: number, offset: number): boolean {
    const list = this.byProducer.get(producerId);
    if (list === undefined) return false;
    // First entry whose marker is at or after offset: the only one whose range can hold it.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    const txn = list[lo];
    return txn !== undefined && txn.firstOffset <= offset;
  }
}

/**
 * The transaction bookkeeping of one pass (pure, stateful): fed every batch of the rewritten segments
 * in offset order, from the first segment of the log, it says which markers may go.
 */
export class TxnCleanState {
  /** producerId -> whether any record of its current transaction is kept so far. */
  private readonly ongoing = new Map<number, boolean>();

  constructor(
    readonly aborted: AbortedRanges,
    /** producerId -> base offset of its last data batch in the pass: that batch keeps a record. */
    readonly lastDataBatchOfProducer: ReadonlyMap<number, number>,
    /** A marker with no kept record before it goes when its timestamp is below this, ms. */
    readonly markerHorizonMs: number,
  ) {}

  /** A transactional data batch of `producerId` was kept (`retained`: with records or empty) or dropped. */
  onData(producerId: number, retained: boolean): void {
    this.ongoing.set(producerId, (this.ongoing.get(producerId) ?? false) || retained);
  }

  /** A marker of `producerId` ends its transaction: returns whether any record of it was kept. */
  onMarker(producerId: number): boolean {
    const retained = this.ongoing.get(producerId) ?? false;
    this.ongoing.delete(producerId);
    return retained;
  }
}

/** The header fields the cleaner's transaction rules read (the batch's framing was checked). */
function txnFields(batch: Buffer): { producerId: number; transactional: boolean; control: boolean; maxTimestamp: number } {
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  return {
    producerId: readInt64(batch, PRODUCER_ID_OFFSET),
    transactional: (attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
    control: (attributes & CONTROL_FLAG_MASK) !== 0,
    maxTimestamp: readInt64(batch, MAX_TIMESTAMP_OFFSET),
  };
}

/** Whether the cleaner must keep `batch`'s records out of the key map: a marker, or data of an aborted transaction. */
export function skipsKeyMap(batch: Buffer, aborted: AbortedRanges): boolean {
  const f = txnFields(batch);
  return f.control || (f.transactional && aborted.isAborted(f.producerId, readInt64(batch, 0)));
}

/**
 * What one stored batch becomes (pure but for `txn`, which it advances): the same bytes, a rebuilt
 * batch, or null (dropped). `mapEndOffset` bounds the pass: batches at or after it are kept as they are.
 * Batches must come in offset order, from the log's first segment.
 */
export function cleanBatch(
  batch: Buffer,
  opts: { readonly map: OffsetMap; readonly mapEndOffset: number; readonly tombstoneHorizonMs: number; readonly txn: TxnCleanState },
  stats: BatchCleanStats,
): Buffer | null {
  const { txn } = opts;
  const f = txnFields(batch);
  const parsed = readBatchRecords(batch);
  const untouched = parsed.kind === 'unreadable' || parsed.baseOffset >= opts.mapEndOffset;
  if (parsed.kind === 'unreadable') stats.unreadableBatches += 1;
  if (f.control) {
    const retained = txn.onMarker(f.producerId);
    if (untouched || retained || f.maxTimestamp >= txn.markerHorizonMs) return batch;
    stats.markersRemoved += 1;
    stats.batchesRemoved += 1;
    return null;
  }
  if (untouched) {
    if (f.transactional) txn.onData(f.producerId, true);
    return batch;
  }
  const aborted = f.transactional && txn.aborted.isAborted(f.producerId, parsed.baseOffset);
  const kept = aborted ? [] : parsed.records.filter((record) => {
    if (record.key === null) return true;
    const latest = opts.map.get(record.key);
    if (latest !== undefined && latest > record.offset) return false;
    if (record.isTombstone && record.timestamp < opts.tombstoneHorizonMs) {
      stats.tombstonesRemoved += 1;
      return false;
    }
    return true;
  });
  if (aborted) stats.abortedRecordsRemoved += parsed.records.length;
  stats.recordsRemoved += parsed.records.length - kept.length;
  const out = keptBatch(batch, parsed, kept, f.producerId >= 0 && txn.lastDataBatchOfProducer.get(f.producerId) === parsed.baseOffset);
  if (out === null) stats.batchesRemoved += 1;
  // Any batch kept, even empty, keeps its transaction's marker: a rebuild of producer state from the
  // log treats it as part of the transaction, which only the marker ends.
  if (f.transactional) txn.onData(f.producerId, out !== null);
  return out;
}

/**
 * The batch left of `batch` with only `kept` of its records: itself when nothing went; an empty batch
 * (header unchanged: epoch, sequence) when nothing is left of the producer's last batch; otherwise
 * null when nothing is left (an empty batch kept by an earlier pass goes once a later batch of its
 * producer carries the producer's state).
 */
function keptBatch(batch: Buffer, parsed: ReadableBatch, kept: readonly StoredRecord[], lastOfProducer: boolean): Buffer | null {
  if (kept.length === 0) return lastOfProducer ? (parsed.records.length === 0 ? batch : rebuildBatch(batch, parsed, kept)) : null;
  return kept.length === parsed.records.length ? batch : rebuildBatch(batch, parsed, kept);
}
