// One segment of a partition log: `<base>.log` plus its in-memory sparse indexes, persisted as
// `<base>.index` and `<base>.timeindex`, and its aborted-transaction index `<base>.txnindex`
// (txn-index.ts; unlike the others it cannot be rebuilt from the log, see docs/storage.md). A segment only changes through PartitionLog's serialized
// writer; reads may run concurrently and see `sizeBytes`, which only covers completely written batches.
import assert from 'node:assert/strict';
import { type FileHandle, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ATTRIBUTES_OFFSET, CONTROL_FLAG_MASK, PRODUCER_ID_OFFSET } from '@tributary/record-format';
import { readBatchRecords } from './record-reader.js';
import { BATCH_HEADER_BYTES, type BatchExtent, EXTENT_HEADER_BYTES, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET, MAX_TIMESTAMP_OFFSET, readInt64 } from './batch-header.js';
import { fsyncDir } from './checkpoint-file.js';
import { findExtent, preadFully, pwriteFully, validateLogFile } from './file-io.js';
import type { LogConfig } from './log-config.js';
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from './offset-index.js';
import { TIME_INDEX_ENTRY_BYTES, TimeIndex } from './time-index.js';
import type { Logger } from './logger.js';
import { type AbortedTxn, parseTxnIndex, TXN_INDEX_ENTRY_BYTES, TXN_INDEX_SUFFIX, TxnIndex } from './txn-index.js';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
/** Largest offset distance inside one segment: relative offsets are u32, Kafka keeps them ≤ Int.MaxValue. */
export const MAX_RELATIVE_OFFSET = 0x7fffffff;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

/** A batch placed in a segment by the writer: where it lands and what the indexes need. */
export interface PlacedBatch {
  readonly position: number;
  readonly sizeBytes: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
}

export interface SegmentLoad {
  readonly segment: LogSegment;
  /** Set when recovery found a torn or corrupt batch and truncated the file there. */
  readonly truncatedReason: string | null;
  /** Set when the `.txnindex` file was unreadable (the segment starts with an empty one) or had a torn entry. */
  readonly txnIndexLost: string | null;
}

export class LogSegment {
  /** Bytes of whole batches written; reads never go past it. */
  sizeBytes: number;
  /** The offset after the last batch written. */
  nextOffset: number;
  /** Largest batch maxTimestamp in the segment, -1 when empty. */
  maxTimestamp = -1;
  offsetOfMaxTimestamp = -1;
  /** Clock time of the first append since the segment was created or opened (segment.ms); null while empty. */
  rollStartMs: number | null = null;
  /** Data written since the last fsync. */
  dirty = false;
  /** In-memory indexes differ from the index files. */
  indexesDirty = false;
  /** The in-memory txn index differs from the `.txnindex` file (persisted apart: it cannot be rebuilt). */
  txnIndexDirty = false;
  /** Background work after a roll (persist indexes, fsync); awaited before the segment is touched again. */
  closingTask: Promise<void> | null = null;
  private bytesSinceLastIndexEntry = 0;
  private syncing: Promise<void> | null = null;
  private readers = 0;
  private released = false;
  private releaseWhenIdle: (() => Promise<void>) | null = null;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private readonly handle: FileHandle,
    readonly offsetIndex: OffsetIndex,
    readonly timeIndex: TimeIndex,
    sizeBytes: number,
    nextOffset: number,
    /** Replaced only by the cleaner's swap (adoptTxnIndex). */
    private txnIndexValue: TxnIndex,
  ) {
    this.sizeBytes = sizeBytes;
    this.nextOffset = nextOffset;
  }

  get logPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, LOG_SUFFIX));
  }
  get indexPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, INDEX_SUFFIX));
  }
  get timeIndexPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, TIME_INDEX_SUFFIX));
  }
  get txnIndexPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, TXN_INDEX_SUFFIX));
  }

  get txnIndex(): TxnIndex {
    return this.txnIndexValue;
  }

  static async create(dir: string, baseOffset: number, config: LogConfig): Promise<LogSegment> {
    const handle = await open(path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX)), 'wx+');
    const segment = new LogSegment(dir, baseOffset, handle, ...emptyIndexes(baseOffset, config), 0, baseOffset, emptyTxnIndex(baseOffset, config));
    segment.indexesDirty = true;
    // A leftover file of an earlier log at this offset (a truncation deleted the segment, a crash lost
    // the unlink) must not come back on the next open.
    await rm(segment.txnIndexPath, { force: true });
    return segment;
  }

  /**
   * Opens an existing segment. With `recover`, validates every batch, truncates the file at the first
   * torn or corrupt one and rebuilds the indexes; `onBatch` sees each valid batch (to rebuild the
   * epoch cache). Without it, trusts the log and loads the index files, rebuilding them (by a
   * validating walk) when missing or bad.
   */
  static async load(opts: {
    readonly dir: string;
    readonly baseOffset: number;
    readonly config: LogConfig;
    readonly recover: boolean;
    readonly logger: Logger;
    readonly onBatch: (extent: BatchExtent) => void;
    /** Offsets below it may have gaps left by compaction (see validateLogFile). */
    readonly compactedEndOffset?: number;
  }): Promise<SegmentLoad> {
    const handle = await open(path.join(opts.dir, segmentFileName(opts.baseOffset, LOG_SUFFIX)), 'r+');
    try {
      return await LogSegment.loadFrom(handle, opts);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private static async loadFrom(
    handle: FileHandle,
    opts: Parameters<typeof LogSegment.load>[0],
  ): Promise<SegmentLoad> {
    const { dir, baseOffset, config } = opts;
    const fileBytes = (await handle.stat()).size;
    if (!opts.recover) {
      const trusted = await LogSegment.loadTrusted(dir, baseOffset, config, handle, fileBytes);
      if (trusted !== null) return { segment: trusted, truncatedReason: null, txnIndexLost: await trusted.loadTxnIndex(config, opts.logger) };
      opts.logger.warn({ baseOffset }, 'index files missing or bad; rebuilding from the log');
    }
    const segment = new LogSegment(dir, baseOffset, handle, ...emptyIndexes(baseOffset, config), 0, baseOffset, emptyTxnIndex(baseOffset, config));
    const walk = await validateLogFile(handle, fileBytes, baseOffset, (extent) => {
      segment.indexBatch(extent, config);
      segment.sizeBytes = extent.position + extent.sizeBytes;
      segment.nextOffset = extent.lastOffset + 1;
      opts.onBatch(extent);
    }, opts.compactedEndOffset ?? 0);
    if (walk.stopReason !== null) {
      opts.logger.warn({ baseOffset, validBytes: walk.validBytes, fileBytes, reason: walk.stopReason }, 'truncating torn or corrupt log tail');
      await handle.truncate(walk.validBytes);
      segment.dirty = true;
    }
    segment.indexesDirty = true;
    const txnIndexLost = await segment.loadTxnIndex(config, opts.logger);
    await segment.persistIndexes({ sync: false });
    return { segment, truncatedReason: walk.stopReason, txnIndexLost };
  }

  /**
   * Loads `<base>.txnindex` against the segment's (recovered) extent: a torn tail is cut, entries past
   * the segment end dropped (the file is rewritten, synced); an unreadable file is set aside as empty
   * with a warning. Returns why entries may be lost (unreadable, torn), else null: the broker re-adds
   * entries from its producer-state rebuild.
   * The file is read only up to the size the limit allows, so a huge hostile file costs nothing.
   */
  private async loadTxnIndex(config: LogConfig, logger: Logger): Promise<string | null> {
    // The segment rolls once its index holds txnIndexMaxEntries, but markers appended together get their
    // entries after that check, so a file may hold more. It can never hold more entries than the segment
    // has batches (each marker is a distinct batch of at least BATCH_HEADER_BYTES): that bounds the read.
    const maxEntries = Math.max(txnIndexMaxEntries(config), Math.floor(this.sizeBytes / BATCH_HEADER_BYTES));
    const bytes = await readFileOrNull(this.txnIndexPath, (maxEntries + 1) * TXN_INDEX_ENTRY_BYTES);
    if (bytes === null) return null;
    const parsed = parseTxnIndex(bytes, { baseOffset: this.baseOffset, nextOffset: this.nextOffset, maxEntries });
    if (parsed.kind === 'unreadable') {
      logger.warn({ baseOffset: this.baseOffset, reason: parsed.reason }, 'txn index unreadable; starting it empty (the broker re-adds aborted transactions from its producer state)');
      this.txnIndexDirty = true;
      await this.persistTxnIndex({ sync: true });
      return parsed.reason;
    }
    this.txnIndexValue = parsed.index;
    if (parsed.cut !== null) {
      logger.warn({ baseOffset: this.baseOffset, nextOffset: this.nextOffset, cut: parsed.cut }, 'cut the txn index to the recovered log');
      this.txnIndexDirty = true;
      await this.persistTxnIndex({ sync: true });
    }
    // Our writes replace the file whole, so a torn entry is damage: the entry it held may be lost.
    return parsed.tornTail ? parsed.cut : null;
  }

  private static async loadTrusted(dir: string, baseOffset: number, config: LogConfig, handle: FileHandle, fileBytes: number): Promise<LogSegment | null> {
    const indexBytes = await readFileOrNull(path.join(dir, segmentFileName(baseOffset, INDEX_SUFFIX)));
    const timeBytes = await readFileOrNull(path.join(dir, segmentFileName(baseOffset, TIME_INDEX_SUFFIX)));
    if (indexBytes === null || timeBytes === null) return null;
    const offsetIndex = OffsetIndex.load(baseOffset, maxEntries(config, OFFSET_INDEX_ENTRY_BYTES), indexBytes, fileBytes);
    if (offsetIndex === null) return null;
    // Walk the tail from the last indexed batch to find the next offset; the first extent must be the
    // batch the entry names, or the index does not belong to this log.
    const last = offsetIndex.lastEntry();
    const from = last?.position ?? 0;
    let nextOffset = baseOffset;
    let tailMax = { timestamp: -1, offset: -1 };
    let first = true;
    try {
      await findExtent(handle, from, fileBytes, (extent) => {
        // Without an entry the first batch need only belong here: compaction may have removed the batch at the base offset.
        const mismatch = last === null ? extent.baseOffset < baseOffset : extent.baseOffset !== baseOffset + last.relOffset;
        if (first && mismatch) throw new Error('index entry does not match the log');
        first = false;
        nextOffset = extent.lastOffset + 1;
        if (extent.maxTimestamp > tailMax.timestamp) tailMax = { timestamp: extent.maxTimestamp, offset: extent.baseOffset };
        return false;
      });
    } catch {
      return null;
    }
    const timeIndex = TimeIndex.load(baseOffset, maxEntries(config, TIME_INDEX_ENTRY_BYTES), timeBytes, nextOffset);
    if (timeIndex === null) return null;
    const segment = new LogSegment(dir, baseOffset, handle, offsetIndex, timeIndex, fileBytes, nextOffset, emptyTxnIndex(baseOffset, config));
    const lastTime = timeIndex.lastEntry();
    if (lastTime !== null && lastTime.timestamp >= tailMax.timestamp) {
      segment.maxTimestamp = lastTime.timestamp;
      segment.offsetOfMaxTimestamp = lastTime.offset;
    } else {
      segment.maxTimestamp = tailMax.timestamp;
      segment.offsetOfMaxTimestamp = tailMax.offset;
    }
    segment.bytesSinceLastIndexEntry = fileBytes - from;
    return segment;
  }

  isEmpty(): boolean {
    return this.sizeBytes === 0;
  }

  indexesFull(): boolean {
    return this.offsetIndex.isFull() || this.timeIndex.isFull() || this.txnIndex.isFull();
  }

  /** Records an aborted transaction whose marker (lastOffset) is in this segment, after the last entry (the log checks both). */
  appendAbortedTxn(txn: AbortedTxn): void {
    assert.ok(!this.released, 'txn index append to a released segment');
    assert.ok(txn.lastOffset >= this.baseOffset && txn.lastOffset < this.nextOffset, `aborted txn marker at ${txn.lastOffset} is outside segment [${this.baseOffset}, ${this.nextOffset})`);
    this.txnIndex.append(txn);
    this.txnIndexDirty = true;
  }

  /** The cleaner's swap: this (freshly loaded) segment takes over `index`, persisted synced. */
  async adoptTxnIndex(index: TxnIndex): Promise<void> {
    assert.equal(index.baseOffset, this.baseOffset, 'txn index of another segment');
    this.txnIndexValue = index;
    this.txnIndexDirty = true;
    await this.persistTxnIndex({ sync: true });
  }

  /**
   * Writes `<base>.txnindex` when it changed: temp + rename (fsynced, and the directory too, when
   * `sync`). An empty index has no file.
   */
  async persistTxnIndex(opts: { readonly sync: boolean }): Promise<void> {
    if (!this.txnIndexDirty || this.released) return;
    this.txnIndexDirty = false;
    if (this.txnIndex.entries.length === 0) {
      await rm(this.txnIndexPath, { force: true });
    } else {
      await writeTemp(`${this.txnIndexPath}.tmp`, this.txnIndex.toBuffer(), opts.sync);
      await rename(`${this.txnIndexPath}.tmp`, this.txnIndexPath);
    }
    if (opts.sync) await fsyncDir(this.dir);
  }

  /** Applies index bookkeeping for one batch at the end of the segment (Kafka's rule: an entry once more than indexIntervalBytes accumulated). */
  private indexBatch(batch: PlacedBatch, config: LogConfig): void {
    if (batch.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = batch.maxTimestamp;
      this.offsetOfMaxTimestamp = batch.baseOffset;
    }
    if (this.bytesSinceLastIndexEntry > config.indexIntervalBytes) {
      this.offsetIndex.append(batch.baseOffset, batch.position);
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += batch.sizeBytes;
  }

  /** Writes `buffers` (the batches `placed`, in order, starting at sizeBytes) and then publishes them to readers. */
  async append(buffers: readonly Buffer[], placed: readonly PlacedBatch[], config: LogConfig, nowMs: number): Promise<void> {
    assert.ok(!this.released, 'append to a released segment');
    assert.ok(placed.length > 0 && placed[0]!.position === this.sizeBytes, 'batches must be placed at the end of the segment');
    await pwriteFully(this.handle, buffers, this.sizeBytes);
    for (const batch of placed) {
      assert.equal(batch.baseOffset, this.nextOffset, 'segment offsets must be dense');
      this.indexBatch(batch, config);
      this.sizeBytes = batch.position + batch.sizeBytes;
      this.nextOffset = batch.lastOffset + 1;
    }
    this.rollStartMs ??= nowMs;
    this.dirty = true;
    this.indexesDirty = true;
  }

  /**
   * On open, segment.ms counts from the first batch's max timestamp (Kafka's rule), not from the first
   * append since this process opened the segment: otherwise a broker restarted more often than
   * segment.ms would never roll — nor let retention.ms delete — its active segment. A timestamp in
   * the future (or none) falls back to now.
   */
  async restoreRollStart(nowMs: number): Promise<void> {
    if (this.rollStartMs !== null || this.sizeBytes < MAX_TIMESTAMP_OFFSET + 8) return;
    const header = await preadFully(this.handle, MAX_TIMESTAMP_OFFSET, 8);
    const firstBatchMaxTimestamp = Number(header.readBigInt64BE(0));
    this.rollStartMs = firstBatchMaxTimestamp > 0 && firstBatchMaxTimestamp <= nowMs ? firstBatchMaxTimestamp : nowMs;
  }

  /** fsyncs written data; a caller arriving while another fsync runs waits for that one. */
  async fsync(): Promise<void> {
    if (!this.dirty) {
      await this.syncing;
      return;
    }
    this.dirty = false;
    const syncing = this.handle.datasync();
    this.syncing = syncing;
    try {
      await syncing;
    } finally {
      if (this.syncing === syncing) this.syncing = null;
    }
  }

  /** Writes the index files (atomically, fsynced when `sync`). Adds a final time index entry for the segment's max timestamp. */
  async persistIndexes(opts: { readonly sync: boolean }): Promise<void> {
    await this.persistTxnIndex(opts);
    if (!this.indexesDirty || this.released) return;
    this.indexesDirty = false;
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
    const offsetBytes = this.offsetIndex.toBuffer();
    const timeBytes = this.timeIndex.toBuffer();
    await writeTemp(`${this.indexPath}.tmp`, offsetBytes, opts.sync);
    await writeTemp(`${this.timeIndexPath}.tmp`, timeBytes, opts.sync);
    await rename(`${this.indexPath}.tmp`, this.indexPath);
    await rename(`${this.timeIndexPath}.tmp`, this.timeIndexPath);
    if (opts.sync) await fsyncDir(this.dir);
  }

  /** The first batch whose last offset is ≥ offset, or null when the segment ends before it. */
  async findBatch(offset: number): Promise<BatchExtent | null> {
    if (offset >= this.nextOffset) return null;
    const from = this.offsetIndex.lookup(offset);
    return findExtent(this.handle, from, this.sizeBytes, (e) => e.lastOffset >= offset);
  }

  /**
   * The transaction marker starting at `offset`: its producer and its control type (Kafka's control
   * record key: int16 version, int16 type, 0 = ABORT, 1 = COMMIT), or null when no control batch starts
   * there. Reads that one batch.
   */
  async markerAt(offset: number): Promise<{ readonly producerId: number; readonly type: 'ABORT' | 'COMMIT' | 'UNKNOWN' } | null> {
    const found = await this.findBatch(offset);
    if (found === null || found.baseOffset !== offset) return null;
    const { records: batch } = await this.readBatches(found.position, { maxBytes: 0, maxOffset: Number.MAX_SAFE_INTEGER, mustTakeOne: true });
    if (batch.length < BATCH_HEADER_BYTES || (batch.readInt16BE(ATTRIBUTES_OFFSET) & CONTROL_FLAG_MASK) === 0) return null;
    const producerId = readInt64(batch, PRODUCER_ID_OFFSET);
    const parsed = readBatchRecords(batch);
    const key = parsed.kind === 'records' && parsed.records.length === 1 ? parsed.records[0]!.key : null;
    const type = key === null || key.length < 4 ? 'UNKNOWN' : key.readInt16BE(2) === 0 ? 'ABORT' : key.readInt16BE(2) === 1 ? 'COMMIT' : 'UNKNOWN';
    return { producerId, type };
  }

  /** The first batch at or after `fromOffset` whose maxTimestamp is ≥ timestamp (batch granularity). */
  async findBatchByTimestamp(timestamp: number, fromOffset: number): Promise<BatchExtent | null> {
    if (this.maxTimestamp < timestamp) return null;
    const below = this.timeIndex.lastEntryBelow(timestamp);
    const startOffset = Math.max(below?.offset ?? this.baseOffset, fromOffset);
    const from = this.offsetIndex.lookup(startOffset);
    return findExtent(this.handle, from, this.sizeBytes, (e) => e.lastOffset >= startOffset && e.maxTimestamp >= timestamp);
  }

  /**
   * Reads whole batches from `position`: stops before a batch whose last offset is ≥ maxOffset or that
   * would take the total past maxBytes, except that with `mustTakeOne` the first batch is returned
   * whatever its size. `reachedEnd` says the read consumed the segment to its end.
   */
  async readBatches(position: number, opts: { maxBytes: number; maxOffset: number; mustTakeOne: boolean }): Promise<{ records: Buffer; reachedEnd: boolean }> {
    const end = this.sizeBytes;
    const available = end - position;
    let buf: Buffer = await preadFully(this.handle, position, Math.min(available, Math.max(opts.maxBytes, EXTENT_HEADER_BYTES)));
    let taken = 0;
    let blocked = false;
    while (taken < buf.length) {
      if (buf.length - taken < LOG_OVERHEAD_BYTES) break;
      const sizeBytes = LOG_OVERHEAD_BYTES + buf.readInt32BE(taken + BATCH_LENGTH_OFFSET);
      const lastOffsetDelta = buf.length - taken >= EXTENT_HEADER_BYTES ? buf.readInt32BE(taken + LAST_OFFSET_DELTA_OFFSET) : null;
      const baseOffset = readInt64(buf, taken);
      if (lastOffsetDelta === null) {
        if (taken === 0 && opts.mustTakeOne) {
          buf = await preadFully(this.handle, position, Math.min(available, Math.max(sizeBytes, EXTENT_HEADER_BYTES)));
          continue;
        }
        blocked = true;
        break;
      }
      if (baseOffset + lastOffsetDelta >= opts.maxOffset) {
        blocked = true;
        break;
      }
      const fitsLimit = taken + sizeBytes <= opts.maxBytes || (taken === 0 && opts.mustTakeOne);
      if (!fitsLimit) {
        blocked = true;
        break;
      }
      if (taken + sizeBytes > buf.length) {
        // Only the first batch can outgrow the read (mustTakeOne); fetch it whole.
        assert.ok(taken === 0, 'partial batch beyond maxBytes must have been excluded');
        buf = await preadFully(this.handle, position, sizeBytes);
        assert.equal(buf.length, sizeBytes, 'batch extends past the written segment');
      }
      taken += sizeBytes;
    }
    return { records: buf.subarray(0, taken), reachedEnd: !blocked && position + taken === end };
  }

  /**
   * Drops every batch that contains an offset ≥ offset (the whole batch, when offset falls inside it).
   * Returns the new next offset.
   */
  async truncateTo(offset: number): Promise<number> {
    const first = await this.findBatch(offset);
    if (first === null) return this.nextOffset;
    await this.handle.truncate(first.position);
    this.sizeBytes = first.position;
    this.nextOffset = first.baseOffset;
    this.offsetIndex.truncateToPosition(first.position);
    this.timeIndex.truncateToOffset(this.nextOffset);
    // Recompute the running max: nothing before the last time entry beats it, so walk from there.
    const lastTime = this.timeIndex.lastEntry();
    this.maxTimestamp = lastTime?.timestamp ?? -1;
    this.offsetOfMaxTimestamp = lastTime?.offset ?? -1;
    const from = this.offsetIndex.lookup(lastTime?.offset ?? this.baseOffset);
    await findExtent(this.handle, from, this.sizeBytes, (e) => {
      if (e.maxTimestamp > this.maxTimestamp) {
        this.maxTimestamp = e.maxTimestamp;
        this.offsetOfMaxTimestamp = e.baseOffset;
      }
      return false;
    });
    this.bytesSinceLastIndexEntry = this.sizeBytes - (this.offsetIndex.lastEntry()?.position ?? 0);
    this.dirty = true;
    this.indexesDirty = true;
    // The index files on disk now describe bytes that are gone; remove them until the next persist.
    await rm(this.indexPath, { force: true });
    await rm(this.timeIndexPath, { force: true });
    // The txn index cannot be rebuilt from the log, so it is rewritten now rather than removed.
    if (this.txnIndex.truncateTo(this.nextOffset)) {
      this.txnIndexDirty = true;
      await this.persistTxnIndex({ sync: true });
    }
    return this.nextOffset;
  }

  /** Marks a read in progress so the file handle stays open until it ends. */
  acquire(): void {
    this.readers += 1;
  }

  release(): void {
    this.readers -= 1;
    assert.ok(this.readers >= 0, 'segment reader count below zero');
    if (this.readers === 0 && this.releaseWhenIdle !== null) void this.releaseWhenIdle();
  }

  /** Closes the file handle once no read uses it. */
  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.readers === 0) {
      await this.handle.close();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.releaseWhenIdle = () => this.handle.close().then(resolve, reject);
    });
  }

  /** Removes the segment's files now; the handle closes when the last reader is done. */
  async delete(): Promise<void> {
    await this.closingTask?.catch(() => undefined);
    const closing = this.close();
    await rm(this.logPath, { force: true });
    await rm(this.indexPath, { force: true });
    await rm(this.timeIndexPath, { force: true });
    await rm(this.txnIndexPath, { force: true });
    await closing;
  }
}

function maxEntries(config: LogConfig, entryBytes: number): number {
  return Math.max(1, Math.floor(config.segmentIndexBytes / entryBytes));
}

/** Entries a segment's txn index may hold before the segment rolls: segment.index.bytes / 34, at least 1. */
export function txnIndexMaxEntries(config: LogConfig): number {
  return maxEntries(config, TXN_INDEX_ENTRY_BYTES);
}

function emptyTxnIndex(baseOffset: number, config: LogConfig): TxnIndex {
  return new TxnIndex(baseOffset, txnIndexMaxEntries(config));
}

function emptyIndexes(baseOffset: number, config: LogConfig): [OffsetIndex, TimeIndex] {
  return [new OffsetIndex(baseOffset, maxEntries(config, OFFSET_INDEX_ENTRY_BYTES)), new TimeIndex(baseOffset, maxEntries(config, TIME_INDEX_ENTRY_BYTES))];
}

/** The file's bytes (at most `bytesMax`, when given), or null when it does not exist. */
async function readFileOrNull(file: string, bytesMax?: number): Promise<Buffer | null> {
  try {
    if (bytesMax === undefined) return await readFile(file);
    const handle = await open(file, 'r');
    try {
      return await preadFully(handle, 0, Math.min((await handle.stat()).size, bytesMax));
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Writes a temp file for a later rename; fsynced when `sync` (unsynced index files are rebuilt by recovery if lost). */
async function writeTemp(file: string, content: Buffer, sync: boolean): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await pwriteFully(handle, [content], 0);
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
}
