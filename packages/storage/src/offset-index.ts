// Sparse offset index of one segment: entries (relative offset u32, file position u32), big-endian, 8
// bytes each, both strictly increasing. An entry says "the batch whose baseOffset is base + relOffset
// starts at this position". Kept in memory; the file is exactly the entries (no preallocation) and is
// written when the segment is rolled or the log closed. A missing or bad file is rebuilt by scanning.
import assert from 'node:assert/strict';

export const OFFSET_INDEX_ENTRY_BYTES = 8;
const INITIAL_CAPACITY_ENTRIES = 64;

export class OffsetIndex {
  private buf: Buffer;
  private count = 0;

  constructor(
    readonly baseOffset: number,
    /** Entries the index may hold before the segment must roll. */
    readonly maxEntries: number,
  ) {
    assert.ok(maxEntries >= 1, 'offset index needs room for one entry');
    this.buf = Buffer.alloc(Math.min(INITIAL_CAPACITY_ENTRIES, maxEntries) * OFFSET_INDEX_ENTRY_BYTES);
  }

  /**
   * Loads entries from a file's bytes; returns null (meaning: rebuild) when the bytes are not a valid
   * index for a log file of `logSizeBytes` bytes: size not a multiple of the entry, entries out of order,
   * or a position beyond the log.
   */
  static load(baseOffset: number, maxEntries: number, bytes: Buffer, logSizeBytes: number): OffsetIndex | null {
    if (bytes.length % OFFSET_INDEX_ENTRY_BYTES !== 0) return null;
    const index = new OffsetIndex(baseOffset, Math.max(maxEntries, bytes.length / OFFSET_INDEX_ENTRY_BYTES));
    for (let at = 0; at < bytes.length; at += OFFSET_INDEX_ENTRY_BYTES) {
      const rel = bytes.readUInt32BE(at);
      const position = bytes.readUInt32BE(at + 4);
      const last = index.lastEntry();
      if (last !== null && (rel <= last.relOffset || position <= last.position)) return null;
      if (position >= logSizeBytes) return null;
      index.appendRelative(rel, position);
    }
    return index;
  }

  get entries(): number {
    return this.count;
  }

  isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  lastEntry(): { relOffset: number; position: number } | null {
    if (this.count === 0) return null;
    const at = (this.count - 1) * OFFSET_INDEX_ENTRY_BYTES;
    return { relOffset: this.buf.readUInt32BE(at), position: this.buf.readUInt32BE(at + 4) };
  }

  /** Records that the batch with baseOffset `offset` starts at `position`. */
  append(offset: number, position: number): void {
    this.appendRelative(offset - this.baseOffset, position);
  }

  private appendRelative(rel: number, position: number): void {
    assert.ok(rel >= 0 && rel <= 0xffffffff, `relative offset ${rel} out of u32 range`);
    assert.ok(position >= 0 && position <= 0xffffffff, `position ${position} out of u32 range`);
    const last = this.lastEntry();
    assert.ok(last === null || (rel > last.relOffset && position > last.position), 'offset index entries must increase');
    if ((this.count + 1) * OFFSET_INDEX_ENTRY_BYTES > this.buf.length) {
      const grown = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(grown);
      this.buf = grown;
    }
    const at = this.count * OFFSET_INDEX_ENTRY_BYTES;
    this.buf.writeUInt32BE(rel, at);
    this.buf.writeUInt32BE(position, at + 4);
    this.count += 1;
  }

  /** Position of the last indexed batch with baseOffset ≤ offset; 0 (segment start) when none. */
  lookup(offset: number): number {
    const rel = offset - this.baseOffset;
    let lo = 0;
    let hi = this.count - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buf.readUInt32BE(mid * OFFSET_INDEX_ENTRY_BYTES) <= rel) {
        found = this.buf.readUInt32BE(mid * OFFSET_INDEX_ENTRY_BYTES + 4);
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Drops every entry pointing at or beyond `position` (the log was truncated there). */
  truncateToPosition(position: number): void {
    while (this.count > 0 && this.buf.readUInt32BE((this.count - 1) * OFFSET_INDEX_ENTRY_BYTES + 4) >= position) {
      this.count -= 1;
    }
  }

  /** The file image: exactly the entries. The returned buffer is a copy the caller owns. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.count * OFFSET_INDEX_ENTRY_BYTES));
  }
}
