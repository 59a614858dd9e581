// The record batch header (61 bytes, big-endian) and the broker's hot-path operations on it:
// read the header, validate framing + magic + CRC of concatenated batches, stamp offsets and the leader
// epoch in place, and switch a batch to LogAppendTime. Nothing here decodes records.
//
// See docs/record-format.md for the layout and the reasons behind it. This is the only place the layout is
// defined: every package that reads or writes a batch header imports it from here.
import assert from 'node:assert/strict';
import { crc32c } from '@node-rs/crc32';
import { type Compression, compressionFromCode } from './compression.js';
import { updateCrc32c } from './crc32c-update.js';
import { CorruptRecordError } from './errors.js';
import { readInt64Safe, writeInt64 } from './varint.js';

// ---- layout: byte offsets from the start of a batch ----
export const BASE_OFFSET_OFFSET = 0; // int64
export const BATCH_LENGTH_OFFSET = 8; // int32: bytes after this field
export const PARTITION_LEADER_EPOCH_OFFSET = 12; // int32
export const MAGIC_OFFSET = 16; // int8
export const CRC_OFFSET = 17; // uint32: CRC32C of [ATTRIBUTES_OFFSET, end of batch)
export const ATTRIBUTES_OFFSET = 21; // int16
export const LAST_OFFSET_DELTA_OFFSET = 23; // int32
export const BASE_TIMESTAMP_OFFSET = 27; // int64
export const MAX_TIMESTAMP_OFFSET = 35; // int64
export const PRODUCER_ID_OFFSET = 43; // int64
export const PRODUCER_EPOCH_OFFSET = 51; // int16
export const BASE_SEQUENCE_OFFSET = 53; // int32
export const RECORD_COUNT_OFFSET = 57; // int32
export const RECORDS_OFFSET = 61;

/** Size of the fixed batch header; also the size of a batch with no record bytes. */
export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD_BYTES = 12;
/** Smallest legal batchLength value (a batch with an empty record section). */
export const MIN_BATCH_LENGTH = BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES;
/** The only format version Tributary reads or writes. */
export const CURRENT_MAGIC = 2;

// ---- attributes (int16) ----
export const COMPRESSION_CODEC_MASK = 0x07; // bits 0-2
export const TIMESTAMP_TYPE_MASK = 0x08; // bit 3: 0 CreateTime, 1 LogAppendTime
export const TRANSACTIONAL_FLAG_MASK = 0x10; // bit 4
export const CONTROL_FLAG_MASK = 0x20; // bit 5
/** Bits 6-15 are unused: a set one means the batch is corrupt or from a newer writer. */
export const KNOWN_ATTRIBUTE_BITS = 0x3f;

/** Kafka's "no producer" / "no sequence" sentinel for producerId, producerEpoch and baseSequence. */
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

export type TimestampType = 'create' | 'log-append';

/** Every header field of one batch, plus where it sits in the buffer it was read from. */
export interface BatchHeader {
  /** Position of the batch's first byte in the buffer it was read from. */
  readonly position: number;
  /** Whole batch size in bytes: LOG_OVERHEAD_BYTES + batchLength. */
  readonly sizeBytes: number;
  readonly baseOffset: number;
  readonly batchLength: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  /** Stored CRC32C (unsigned). readBatchHeader does not verify it; validateBatches does. */
  readonly crc: number;
  readonly attributes: number;
  readonly compression: Compression;
  readonly timestampType: TimestampType;
  readonly transactional: boolean;
  readonly control: boolean;
  readonly lastOffsetDelta: number;
  /** baseOffset + lastOffsetDelta: the offset of the batch's last record (closed range end). */
  readonly lastOffset: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

/**
 * Checks the batch framing at `pos` (header fits, batchLength sane and within `buf`) and the magic byte;
 * returns the batch size in bytes. Throws CorruptRecordError. Cheap: reads 17 bytes.
 */
export function batchSizeAt(buf: Buffer, pos: number): number {
  const available = buf.length - pos;
  if (available < BATCH_HEADER_BYTES) {
    throw new CorruptRecordError(`batch at position ${pos}: ${available} bytes left, less than the ${BATCH_HEADER_BYTES}-byte header`);
  }
  const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  if (batchLength < MIN_BATCH_LENGTH) {
    throw new CorruptRecordError(`batch at position ${pos}: batchLength ${batchLength} is below the minimum ${MIN_BATCH_LENGTH}`);
  }
  const sizeBytes = LOG_OVERHEAD_BYTES + batchLength;
  if (sizeBytes > available) {
    throw new CorruptRecordError(`batch at position ${pos}: batchLength ${batchLength} runs past the end of the buffer (${available} bytes left)`);
  }
  const magic = buf.readInt8(pos + MAGIC_OFFSET);
  if (magic !== CURRENT_MAGIC) {
    throw new CorruptRecordError(`batch at position ${pos}: magic ${magic}, expected ${CURRENT_MAGIC}`);
  }
  return sizeBytes;
}

/** CRC32C over [attributes, end of batch) of the batch at `pos` whose size is `sizeBytes`. */
export function computeBatchCrc(buf: Buffer, pos: number, sizeBytes: number): number {
  return crc32c(buf.subarray(pos + ATTRIBUTES_OFFSET, pos + sizeBytes)) >>> 0;
}

/** Throws CorruptRecordError unless the stored CRC of the (framed) batch at `pos` matches its bytes. */
export function verifyBatchCrc(buf: Buffer, pos: number, sizeBytes: number): void {
  const stored = buf.readUInt32BE(pos + CRC_OFFSET);
  const computed = computeBatchCrc(buf, pos, sizeBytes);
  if (stored !== computed) {
    throw new CorruptRecordError(
      `batch at position ${pos}: CRC mismatch (stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${computed.toString(16).padStart(8, '0')})`,
    );
  }
}

function int64Field(buf: Buffer, pos: number, fieldOffset: number, name: string): number {
  const value = readInt64Safe(buf, pos + fieldOffset);
  if (value === undefined) throw new CorruptRecordError(`batch at position ${pos}: ${name} is not a safe integer`);
  return value;
}

/**
 * Reads and sanity-checks every header field of the batch at `pos` without touching its records and
 * **without verifying the CRC** (use batchesIn, validateBatches or verifyBatchCrc for that). Throws
 * CorruptRecordError for bad framing, magic, attribute bits or field ranges, and
 * UnsupportedCompressionError for snappy/zstd.
 */
export function readBatchHeader(buf: Buffer, pos: number): BatchHeader {
  return readFramedBatchHeader(buf, pos, batchSizeAt(buf, pos));
}

/** readBatchHeader for a batch whose framing batchSizeAt has already checked (it returned `sizeBytes`). */
export function readFramedBatchHeader(buf: Buffer, pos: number, sizeBytes: number): BatchHeader {
  const where = `batch at position ${pos}`;
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  if ((attributes & ~KNOWN_ATTRIBUTE_BITS) !== 0) {
    throw new CorruptRecordError(`${where}: unknown attribute bits 0x${(attributes & 0xffff).toString(16)}`);
  }
  const compression = compressionFromCode(attributes & COMPRESSION_CODEC_MASK);
  const baseOffset = int64Field(buf, pos, BASE_OFFSET_OFFSET, 'baseOffset');
  if (baseOffset < 0) throw new CorruptRecordError(`${where}: negative baseOffset ${baseOffset}`);
  const lastOffsetDelta = buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
  if (lastOffsetDelta < 0) throw new CorruptRecordError(`${where}: negative lastOffsetDelta ${lastOffsetDelta}`);
  const lastOffset = baseOffset + lastOffsetDelta;
  if (!Number.isSafeInteger(lastOffset)) throw new CorruptRecordError(`${where}: last offset is not a safe integer`);
  const recordCount = buf.readInt32BE(pos + RECORD_COUNT_OFFSET);
  // recordCount may be below lastOffsetDelta + 1 (compaction removes records but keeps the offset span);
  // it may never exceed it, nor the record bytes (every record takes at least 7 bytes, see record-batch.ts).
  if (recordCount < 0 || recordCount > lastOffsetDelta + 1) {
    throw new CorruptRecordError(`${where}: recordCount ${recordCount} does not fit lastOffsetDelta ${lastOffsetDelta}`);
  }
  return {
    position: pos,
    sizeBytes,
    baseOffset,
    batchLength: sizeBytes - LOG_OVERHEAD_BYTES,
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET),
    magic: CURRENT_MAGIC,
    crc: buf.readUInt32BE(pos + CRC_OFFSET),
    attributes,
    compression,
    timestampType: (attributes & TIMESTAMP_TYPE_MASK) !== 0 ? 'log-append' : 'create',
    transactional: (attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
    control: (attributes & CONTROL_FLAG_MASK) !== 0,
    lastOffsetDelta,
    lastOffset,
    baseTimestamp: int64Field(buf, pos, BASE_TIMESTAMP_OFFSET, 'baseTimestamp'),
    maxTimestamp: int64Field(buf, pos, MAX_TIMESTAMP_OFFSET, 'maxTimestamp'),
    producerId: int64Field(buf, pos, PRODUCER_ID_OFFSET, 'producerId'),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET),
    recordCount,
  };
}

export interface BatchStamp {
  /** Offset of the batch's first record, assigned by the leader. */
  readonly baseOffset: number;
  /** Leader epoch of the leader that appends the batch. */
  readonly partitionLeaderEpoch: number;
}

/**
 * Writes baseOffset and partitionLeaderEpoch into the batch at `pos`, in place. Both fields lie before the
 * CRC-covered range, so the CRC stays valid and no byte of the batch body is read: that is why the layout
 * puts them there. The caller owns `buf` and must have framed the batch (batchesIn, validateBatches).
 */
export function stampBatch(buf: Buffer, pos: number, stamp: BatchStamp): void {
  assert.ok(Number.isSafeInteger(stamp.baseOffset) && stamp.baseOffset >= 0, `stampBatch: bad baseOffset ${stamp.baseOffset}`);
  assert.ok(
    Number.isInteger(stamp.partitionLeaderEpoch) && stamp.partitionLeaderEpoch >= -1 && stamp.partitionLeaderEpoch <= 0x7fffffff,
    `stampBatch: bad partitionLeaderEpoch ${stamp.partitionLeaderEpoch}`,
  );
  assert.ok(pos >= 0 && pos + BATCH_HEADER_BYTES <= buf.length, `stampBatch: no batch header at position ${pos}`);
  writeInt64(buf, pos + BASE_OFFSET_OFFSET, stamp.baseOffset);
  buf.writeInt32BE(stamp.partitionLeaderEpoch, pos + PARTITION_LEADER_EPOCH_OFFSET);
}

/** Bytes of the CRC-covered range that setLogAppendTime may change: attributes through maxTimestamp. */
const LOG_APPEND_TIME_CHANGED_BYTES = MAX_TIMESTAMP_OFFSET + 8 - ATTRIBUTES_OFFSET;

/**
 * Marks the batch at `pos` as LogAppendTime with maxTimestamp = `timestampMs`, in place, and updates the
 * CRC. The timestamp type and maxTimestamp are inside the CRC-covered range on purpose, because they are
 * the batch's meaning (what consumers see as every record's timestamp, what the time index is rebuilt
 * from), not per-append bookkeeping like the offset and epoch, and a flipped bit in them must be caught at
 * rest. The new CRC is the stored one updated by the change (updateCrc32c, no pass over the records), so
 * a batch whose bytes do not match its stored CRC still does not match afterwards: it is never re-blessed.
 *
 * `crc`: 'verify' (default) checks the stored CRC first, one pass over the batch, and throws
 * CorruptRecordError on a mismatch; 'verified-at-edge' skips that pass, for bytes whose CRC this process
 * verified (validateBatches) and that were not touched since except by stampBatch (outside the CRC).
 */
export function setLogAppendTime(buf: Buffer, pos: number, timestampMs: number, options: { readonly crc?: 'verify' | 'verified-at-edge' } = {}): void {
  assert.ok(Number.isSafeInteger(timestampMs), `setLogAppendTime: bad timestamp ${timestampMs}`);
  const sizeBytes = batchSizeAt(buf, pos);
  if ((options.crc ?? 'verify') === 'verify') verifyBatchCrc(buf, pos, sizeBytes);
  const changed = buf.subarray(pos + ATTRIBUTES_OFFSET, pos + ATTRIBUTES_OFFSET + LOG_APPEND_TIME_CHANGED_BYTES);
  const before = Buffer.from(changed);
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  buf.writeInt16BE(attributes | TIMESTAMP_TYPE_MASK, pos + ATTRIBUTES_OFFSET);
  writeInt64(buf, pos + MAX_TIMESTAMP_OFFSET, timestampMs);
  const crc = updateCrc32c(buf.readUInt32BE(pos + CRC_OFFSET), before, changed, sizeBytes - ATTRIBUTES_OFFSET);
  buf.writeUInt32BE(crc, pos + CRC_OFFSET);
}
