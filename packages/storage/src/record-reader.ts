// The little of the record layout the cleaner needs (docs/record-format.md, "Record layout"): each
// record's byte range, offset, timestamp, key and whether its value is null (a tombstone). Storage
// reads records nowhere else: produce, replication and fetch stay header-only.
//
// Contract: readBatchRecords never throws on bad bytes; it returns an `unreadable` reason instead, and
// the cleaner then keeps that batch verbatim (it cannot know which of its records are superseded). A
// batch reaching here already passed the CRC check at append or recovery.
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  ByteCursor,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD_BYTES,
  MAX_TIMESTAMP_OFFSET,
  RECORD_COUNT_OFFSET,
  RecordFormatError,
  TIMESTAMP_TYPE_MASK,
  compress,
  compressionFromCode,
  computeBatchCrc,
  inflateBounded,
} from '@tributary/record-format';
import { readInt64 } from './batch-header.js';

/** Attribute bit 5: a control batch (transaction marker); the cleaner keeps it whole. */
export const CONTROL_FLAG = CONTROL_FLAG_MASK;
/** Largest decompressed record section the cleaner will inflate (the protocol decoder's default limit). */
export const CLEANER_DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024;

export interface StoredRecord {
  /** Absolute offset: baseOffset + offsetDelta. */
  readonly offset: number;
  /** Record timestamp, ms: baseTimestamp + delta (CreateTime) or the batch's maxTimestamp (LogAppendTime). */
  readonly timestamp: number;
  /** A view into the record section; null for a keyless record. */
  readonly key: Buffer | null;
  readonly isTombstone: boolean;
  /** [start, end) of the whole record, length varint included, within `section`. */
  readonly start: number;
  readonly end: number;
}

export interface ReadableBatch {
  readonly kind: 'records';
  readonly baseOffset: number;
  readonly isControl: boolean;
  /** The (decompressed) record section the record ranges point into. */
  readonly section: Buffer;
  readonly records: readonly StoredRecord[];
}

export type BatchRecords = ReadableBatch | { readonly kind: 'unreadable'; readonly reason: string };

class ParseError extends Error {}

/** Parses the records of one whole batch (`batch` spans exactly the batch). */
export function readBatchRecords(batch: Buffer, decompressedBytesMax = CLEANER_DECOMPRESSED_BYTES_MAX): BatchRecords {
  try {
    const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
    const baseOffset = readInt64(batch, 0);
    const section = inflateBounded(compressionFromCode(attributes & COMPRESSION_CODEC_MASK), batch.subarray(BATCH_HEADER_BYTES), decompressedBytesMax);
    const lastOffsetDelta = batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
    const recordCount = batch.readInt32BE(RECORD_COUNT_OFFSET);
    const logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;
    const baseTimestamp = readInt64(batch, BASE_TIMESTAMP_OFFSET);
    const maxTimestamp = readInt64(batch, MAX_TIMESTAMP_OFFSET);
    const records: StoredRecord[] = [];
    const cursor = new ByteCursor(section, 0, section.length);
    let previousDelta = -1;
    while (cursor.pos < section.length) {
      const start = cursor.pos;
      cursor.end = section.length;
      const length = cursor.readVarint('record length');
      const end = cursor.pos + length;
      if (length < 0 || end > section.length) throw new ParseError(`record at ${start}: length ${length} runs past the section`);
      cursor.end = end;
      if (cursor.readInt8('attributes') !== 0) throw new ParseError(`record at ${start}: attributes not 0`);
      const timestampDelta = cursor.readVarlong('timestampDelta');
      const offsetDelta = cursor.readVarint('offsetDelta');
      if (offsetDelta <= previousDelta || offsetDelta > lastOffsetDelta) throw new ParseError(`record at ${start}: offsetDelta ${offsetDelta} out of order`);
      previousDelta = offsetDelta;
      const keyLength = cursor.readVarint('key length');
      if (keyLength < -1 || cursor.pos + Math.max(keyLength, 0) > end) throw new ParseError(`record at ${start}: key length ${keyLength}`);
      const key = keyLength === -1 ? null : section.subarray(cursor.pos, cursor.pos + keyLength);
      cursor.pos += Math.max(keyLength, 0);
      const valueLength = cursor.readVarint('value length');
      if (valueLength < -1 || cursor.pos + Math.max(valueLength, 0) > end) throw new ParseError(`record at ${start}: value length ${valueLength}`);
      records.push({
        offset: baseOffset + offsetDelta,
        timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta,
        key,
        isTombstone: valueLength === -1,
        start,
        end,
      });
      cursor.pos = end; // headers are not needed: the length skips them
    }
    if (records.length !== recordCount) throw new ParseError(`${records.length} records, header says ${recordCount}`);
    return { kind: 'records', baseOffset, isControl: (attributes & CONTROL_FLAG) !== 0, section, records };
  } catch (err) {
    if (err instanceof ParseError || err instanceof RecordFormatError || err instanceof RangeError) return { kind: 'unreadable', reason: err.message };
    if (err instanceof Error && 'code' in err) return { kind: 'unreadable', reason: `${String(err.code)}: ${err.message}` };
    return { kind: 'unreadable', reason: String(err) };
  }
}

/**
 * The batch with only `kept` records (a subset of `parsed.records`, in order), recompressed with the
 * batch's own codec: baseOffset, lastOffsetDelta, timestamps, producer fields and epoch unchanged (so
 * the batch's offset span survives, as in Kafka), recordCount and batchLength updated, CRC recomputed.
 */
export function rebuildBatch(batch: Buffer, parsed: ReadableBatch, kept: readonly StoredRecord[]): Buffer {
  // readBatchRecords read this codec, so it is one compressionFromCode accepts.
  const codec = compressionFromCode(batch.readInt16BE(ATTRIBUTES_OFFSET) & COMPRESSION_CODEC_MASK);
  const raw = Buffer.concat(kept.map((r) => parsed.section.subarray(r.start, r.end)));
  const records = compress(codec, raw);
  const out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + records.length);
  batch.copy(out, 0, 0, BATCH_HEADER_BYTES);
  records.copy(out, BATCH_HEADER_BYTES);
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(kept.length, RECORD_COUNT_OFFSET);
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), CRC_OFFSET);
  return out;
}
