// Writes the replacement files of one segment for the cleaner: `<base>.log.cleaned` plus its
// `.index.cleaned` / `.timeindex.cleaned`, with the same index rules as LogSegment (an offset entry
// once more than index.interval.bytes accumulated; a time entry when the running max grows, plus a
// final one), so the swapped-in segment loads its indexes as trusted.
import { type FileHandle, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { pwriteFully } from './file-io.js';
import type { LogConfig } from './log-config.js';
import { INDEX_SUFFIX, LOG_SUFFIX, segmentFileName, TIME_INDEX_SUFFIX } from './log-segment.js';
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from './offset-index.js';
import { TIME_INDEX_ENTRY_BYTES, TimeIndex } from './time-index.js';

export const CLEANED_SUFFIX = '.cleaned';
export const SWAP_SUFFIX = '.swap';
export const DELETED_SUFFIX = '.deleted';
/** The three files of a segment, log last: the swap protocol renames the log last (its rename commits). */
export const SEGMENT_SUFFIXES = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX] as const;
/** Bytes the writer buffers before one positional write. */
const WRITE_CHUNK_BYTES = 1024 * 1024;

export function segmentPath(dir: string, baseOffset: number, suffix: string, stage = ''): string {
  return path.join(dir, segmentFileName(baseOffset, suffix) + stage);
}

export class CleanedSegmentWriter {
  private sizeBytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private bytesSinceLastIndexEntry = 0;
  private maxTimestamp = -1;
  private offsetOfMaxTimestamp = -1;
  private readonly offsetIndex: OffsetIndex;
  private readonly timeIndex: TimeIndex;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private readonly config: LogConfig,
    private readonly handle: FileHandle,
  ) {
    this.offsetIndex = new OffsetIndex(baseOffset, maxEntries(config, OFFSET_INDEX_ENTRY_BYTES));
    this.timeIndex = new TimeIndex(baseOffset, maxEntries(config, TIME_INDEX_ENTRY_BYTES));
  }

  /** Creates (truncating any leftover) `<base>.log.cleaned`. */
  static async create(dir: string, baseOffset: number, config: LogConfig): Promise<CleanedSegmentWriter> {
    const handle = await open(segmentPath(dir, baseOffset, LOG_SUFFIX, CLEANED_SUFFIX), 'w');
    return new CleanedSegmentWriter(dir, baseOffset, config, handle);
  }

  get writtenBytes(): number {
    return this.sizeBytes + this.pendingBytes;
  }

  /** Appends one whole batch (the caller's buffer is copied out before the next await). */
  async append(batch: Buffer, baseOffset: number, maxTimestamp: number): Promise<void> {
    const position = this.writtenBytes;
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = baseOffset;
    }
    if (this.bytesSinceLastIndexEntry > this.config.indexIntervalBytes) {
      this.offsetIndex.append(baseOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += batch.length;
    this.pending.push(Buffer.from(batch));
    this.pendingBytes += batch.length;
    if (this.pendingBytes >= WRITE_CHUNK_BYTES) await this.writePending();
  }

  private async writePending(): Promise<void> {
    if (this.pending.length === 0) return;
    const buffers = this.pending;
    const position = this.sizeBytes;
    // Account before the await, so positions stay right even if a caller appends meanwhile.
    this.sizeBytes += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    await pwriteFully(this.handle, buffers, position);
  }

  /** Writes the rest, the index files, and fsyncs all three. Returns the log's size in bytes. */
  async finish(): Promise<number> {
    try {
      await this.writePending();
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
    await writeSynced(segmentPath(this.dir, this.baseOffset, INDEX_SUFFIX, CLEANED_SUFFIX), this.offsetIndex.toBuffer());
    await writeSynced(segmentPath(this.dir, this.baseOffset, TIME_INDEX_SUFFIX, CLEANED_SUFFIX), this.timeIndex.toBuffer());
    return this.sizeBytes;
  }

  /** Abandons the rewrite: closes and removes whatever `.cleaned` files exist. */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await removeStage(this.dir, this.baseOffset, CLEANED_SUFFIX);
  }
}

/** Removes a segment's files of one stage (`.cleaned` or `.swap`). */
export async function removeStage(dir: string, baseOffset: number, stage: string): Promise<void> {
  for (const suffix of SEGMENT_SUFFIXES) await rm(segmentPath(dir, baseOffset, suffix, stage), { force: true });
}

function maxEntries(config: LogConfig, entryBytes: number): number {
  return Math.max(1, Math.floor(config.segmentIndexBytes / entryBytes));
}

async function writeSynced(file: string, content: Buffer): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await pwriteFully(handle, [content], 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
