// Sparse time index of one segment: entries (timestamp i64, relative offset u32), big-endian, 12 bytes.
// An entry (T, o) means "T is the largest maxTimestamp of any batch up to and including the batch at
// base + o, and that batch is the first to reach it". Entries are added only when that running maximum
// grows, so T strictly increases and every batch before base + o has maxTimestamp < T. That is what
// keeps lookups right when producer timestamps are not monotonic: if T < target, nothing at or before
// base + o can match, so a forward scan may start there.
import assert from 'node:assert/strict';
import { readInt64, writeInt64 } from './batch-header.js';

export const TIME_INDEX_ENTRY_BYTES = 12;

export interface TimeIndexEntry {
  readonly timestamp: number;
  readonly offset: number;
}

export class TimeIndex {
  private readonly timestamps: number[] = [];
  private readonly relOffsets: number[] = [];

  constructor(
    readonly baseOffset: number,
    readonly maxEntries: number,
  ) {
    assert.ok(maxEntries >= 1, 'time index needs room for one entry');
  }

  /**
   * Loads entries from a file's bytes, or returns null (meaning: rebuild) when they are not a valid index
   * for a segment whose batches end before `nextOffset`.
   */
  static load(baseOffset: number, maxEntries: number, bytes: Buffer, nextOffset: number): TimeIndex | null {
    if (bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) return null;
    const index = new TimeIndex(baseOffset, Math.max(maxEntries, bytes.length / TIME_INDEX_ENTRY_BYTES));
    for (let at = 0; at < bytes.length; at += TIME_INDEX_ENTRY_BYTES) {
      const timestamp = readInt64(bytes, at);
      const offset = baseOffset + bytes.readUInt32BE(at + 8);
      const last = index.lastEntry();
      if (last !== null && (timestamp <= last.timestamp || offset < last.offset)) return null;
      if (offset >= nextOffset || !Number.isSafeInteger(timestamp)) return null;
      index.append(timestamp, offset);
    }
    return index;
  }

  get entries(): number {
    return this.timestamps.length;
  }

  isFull(): boolean {
    return this.timestamps.length >= this.maxEntries;
  }

  lastEntry(): TimeIndexEntry | null {
    const n = this.timestamps.length;
    if (n === 0) return null;
    return { timestamp: this.timestamps[n - 1]!, offset: this.baseOffset + this.relOffsets[n - 1]! };
  }

  /** Appends (timestamp, offset) when timestamp is a new maximum; ignores it otherwise. */
  maybeAppend(timestamp: number, offset: number): void {
    const last = this.lastEntry();
    if (last !== null && timestamp <= last.timestamp) return;
    this.append(timestamp, offset);
  }

  private append(timestamp: number, offset: number): void {
    const rel = offset - this.baseOffset;
    assert.ok(rel >= 0 && rel <= 0xffffffff, `relative offset ${rel} out of u32 range`);
    const last = this.lastEntry();
    assert.ok(last === null || (timestamp > last.timestamp && offset >= last.offset), 'time index entries must increase');
    this.timestamps.push(timestamp);
    this.relOffsets.push(rel);
  }

  /** The last entry whose timestamp is < `timestamp`: a scan for the first batch with maxTimestamp ≥ timestamp may start at its offset. */
  lastEntryBelow(timestamp: number): TimeIndexEntry | null {
    let lo = 0;
    let hi = this.timestamps.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid]! < timestamp) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? null : { timestamp: this.timestamps[found]!, offset: this.baseOffset + this.relOffsets[found]! };
  }

  /** Drops entries for offsets ≥ nextOffset (the log was truncated there). */
  truncateToOffset(nextOffset: number): void {
    while (this.relOffsets.length > 0 && this.baseOffset + this.relOffsets[this.relOffsets.length - 1]! >= nextOffset) {
      this.relOffsets.pop();
      this.timestamps.pop();
    }
  }

  toBuffer(): Buffer {
    const buf = Buffer.alloc(this.timestamps.length * TIME_INDEX_ENTRY_BYTES);
    for (let i = 0; i < this.timestamps.length; i++) {
      writeInt64(buf, i * TIME_INDEX_ENTRY_BYTES, this.timestamps[i]!);
      buf.writeUInt32BE(this.relOffsets[i]!, i * TIME_INDEX_ENTRY_BYTES + 8);
    }
    return buf;
  }
}
