// The little of the record layout the cleaner needs (docs/record-format.md, "Record layout"): each
// record's byte range, offset, timestamp, key and whether its value is null (a tombstone). Storage
// reads records nowhere else: produce, replication and fetch stay header-only.
//
// Contract: readBatchRecords never throws on bad bytes; it returns an `unreadable` reason instead, and
// the cleaner then keeps that batch verbatim (it cannot know which of its records are superseded). A
// batch reaching here already passed the CRC check at append or recovery.
import { gunzipSync, gzipSync } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { compressSync as lz4CompressSync, uncompressSync as lz4UncompressSync } from 'lz4-napi';
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_APPEND_TIME_FLAG,
  LOG_OVERHEAD_BYTES,
  MAX_TIMESTAMP_OFFSET,
  RECORD_COUNT_OFFSET,
  readInt64,
} from './batch-header.js';

export const COMPRESSION_CODEC_MASK = 0x07;
/** Attribute bit 5: a control batch (transaction marker); the cleaner keeps it whole. */
export const CONTROL_FLAG = 0x20;
const CODEC_NONE = 0;
const CODEC_GZIP = 1;
const CODEC_LZ4 = 3;
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
    const section = decompress(attributes & COMPRESSION_CODEC_MASK, batch.subarray(BATCH_HEADER_BYTES), decompressedBytesMax);
    const lastOffsetDelta = batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
    const recordCount = batch.readInt32BE(RECORD_COUNT_OFFSET);
    const logAppendTime = (attributes & LOG_APPEND_TIME_FLAG) !== 0;
    const baseTimestamp = readInt64(batch, BASE_TIMESTAMP_OFFSET);
    const maxTimestamp = readInt64(batch, MAX_TIMESTAMP_OFFSET);
    const records: StoredRecord[] = [];
    const cursor = { at: 0 };
    let previousDelta = -1;
    while (cursor.at < section.length) {
      const start = cursor.at;
      const length = readVarint(section, cursor, section.length);
      const end = cursor.at + length;
      if (length < 0 || end > section.length) throw new ParseError(`record at ${start}: length ${length} runs past the section`);
      if (section.readInt8(cursor.at) !== 0) throw new ParseError(`record at ${start}: attributes not 0`);
      cursor.at += 1;
      const timestampDelta = readVarlong(section, cursor, end);
      const offsetDelta = readVarint(section, cursor, end);
      if (offsetDelta <= previousDelta || offsetDelta > lastOffsetDelta) throw new ParseError(`record at ${start}: offsetDelta ${offsetDelta} out of order`);
      previousDelta = offsetDelta;
      const keyLength = readVarint(section, cursor, end);
      if (keyLength < -1 || cursor.at + Math.max(keyLength, 0) > end) throw new ParseError(`record at ${start}: key length ${keyLength}`);
      const key = keyLength === -1 ? null : section.subarray(cursor.at, cursor.at + keyLength);
      cursor.at += Math.max(keyLength, 0);
      const valueLength = readVarint(section, cursor, end);
      if (valueLength < -1 || cursor.at + Math.max(valueLength, 0) > end) throw new ParseError(`record at ${start}: value length ${valueLength}`);
      records.push({
        offset: baseOffset + offsetDelta,
        timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta,
        key,
        isTombstone: valueLength === -1,
        start,
        end,
      });
      cursor.at = end; // headers are not needed: the length skips them
    }
    if (records.length !== recordCount) throw new ParseError(`${records.length} records, header says ${recordCount}`);
    return { kind: 'records', baseOffset, isControl: (attributes & CONTROL_FLAG) !== 0, section, records };
  } catch (err) {
    if (err instanceof ParseError || err instanceof RangeError) return { kind: 'unreadable', reason: err.message };
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
  const codec = batch.readInt16BE(ATTRIBUTES_OFFSET) & COMPRESSION_CODEC_MASK;
  const raw = Buffer.concat(kept.map((r) => parsed.section.subarray(r.start, r.end)));
  const records = compress(codec, raw);
  const out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + records.length);
  batch.copy(out, 0, 0, BATCH_HEADER_BYTES);
  records.copy(out, BATCH_HEADER_BYTES);
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(kept.length, RECORD_COUNT_OFFSET);
  out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return out;
}

function decompress(codec: number, data: Buffer, bytesMax: number): Buffer {
  switch (codec) {
    case CODEC_NONE:
      return data;
    case CODEC_GZIP:
      return gunzipSync(data, { maxOutputLength: bytesMax });
    case CODEC_LZ4: {
      // Tributary's LZ4 container: a u32 little-endian decompressed size, then one LZ4 block.
      if (data.length < 4) throw new ParseError('lz4 data shorter than its size prefix');
      const declared = data.readUInt32LE(0);
      if (declared > bytesMax) throw new ParseError(`lz4 data declares ${declared} bytes, over ${bytesMax}`);
      const out = lz4UncompressSync(data);
      if (out.length !== declared) throw new ParseError(`lz4 data declares ${declared} bytes, holds ${out.length}`);
      return out;
    }
    default:
      throw new ParseError(`compression codec ${codec} is not readable by the cleaner`);
  }
}

function compress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case CODEC_NONE:
      return data;
    case CODEC_GZIP:
      return gzipSync(data);
    case CODEC_LZ4:
      return lz4CompressSync(data);
    default:
      throw new Error(`cannot recompress codec ${codec}`); // unreachable: decompress refused it first
  }
}

/** Zigzag varint (int32), at most 5 bytes, not past `end`. */
function readVarint(buf: Buffer, cursor: { at: number }, end: number): number {
  let raw = 0;
  for (let i = 0; i < 5; i++) {
    if (cursor.at >= end) throw new ParseError('varint runs past its record');
    const b = buf[cursor.at++]!;
    raw |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) return (raw >>> 1) ^ -(raw & 1);
  }
  throw new ParseError('varint longer than 5 bytes');
}

/** Zigzag varlong, at most 10 bytes; exact up to 2^53 (timestamps), approximate beyond. */
function readVarlong(buf: Buffer, cursor: { at: number }, end: number): number {
  let raw = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (cursor.at >= end) throw new ParseError('varlong runs past its record');
    const b = buf[cursor.at++]!;
    raw += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }
  throw new ParseError('varlong longer than 10 bytes');
}
