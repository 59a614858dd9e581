// The record batch header as storage sees it (61 bytes, big-endian). Storage parses this layout on its
// own because it depends on nothing of ours (DESIGN.md §2); packages/protocol owns the full format and
// docs/record-format.md documents it. Storage never looks past the header: records stay opaque bytes.
//
//   baseOffset int64 @0 | batchLength int32 @8 (bytes after this field) | partitionLeaderEpoch int32 @12 |
//   magic int8 @16 (=2) | crc uint32 @17 (CRC32C of [21, end)) | attributes int16 @21 |
//   lastOffsetDelta int32 @23 | baseTimestamp int64 @27 | maxTimestamp int64 @35 | producerId int64 @43 |
//   producerEpoch int16 @51 | baseSequence int32 @53 | recordCount int32 @57 | records @61
import { crc32c } from '@node-rs/crc32';
import { CorruptRecordError, InvalidRecordError, RecordTooLargeError } from './errors.js';

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const RECORD_COUNT_OFFSET = 57;
export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes batchLength does not count. */
export const LOG_OVERHEAD_BYTES = 12;
export const MIN_BATCH_LENGTH = BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES;
export const CURRENT_MAGIC = 2;
/** Attribute bit 3: the batch's maxTimestamp is the broker's append time. */
export const LOG_APPEND_TIME_FLAG = 0x08;
/** Header bytes needed to learn a batch's extent, last offset and max timestamp. */
export const EXTENT_HEADER_BYTES = MAX_TIMESTAMP_OFFSET + 8;

/** The header fields storage uses, read from one batch. */
export interface BatchExtent {
  /** Position of the batch's first byte in the buffer (or file) it was read from. */
  readonly position: number;
  /** Whole batch size, LOG_OVERHEAD_BYTES + batchLength. */
  readonly sizeBytes: number;
  readonly baseOffset: number;
  /** baseOffset + lastOffsetDelta (closed). */
  readonly lastOffset: number;
  readonly partitionLeaderEpoch: number;
  readonly maxTimestamp: number;
}

export function readInt64(buf: Buffer, at: number): number {
  // Offsets and millisecond timestamps fit in 2^53; a larger value can only come from corruption,
  // and the callers' range checks reject it.
  return Number(buf.readBigInt64BE(at));
}

export function writeInt64(buf: Buffer, at: number, value: number): void {
  buf.writeBigInt64BE(BigInt(value), at);
}

/**
 * Reads the extent of the batch at `position`, or null when the buffer does not hold at least
 * EXTENT_HEADER_BYTES there. Does not check magic or CRC.
 */
export function readBatchExtent(buf: Buffer, position: number): BatchExtent | null {
  if (buf.length - position < EXTENT_HEADER_BYTES) return null;
  const baseOffset = readInt64(buf, position + BASE_OFFSET_OFFSET);
  return {
    position,
    sizeBytes: LOG_OVERHEAD_BYTES + buf.readInt32BE(position + BATCH_LENGTH_OFFSET),
    baseOffset,
    lastOffset: baseOffset + buf.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET),
    partitionLeaderEpoch: buf.readInt32BE(position + PARTITION_LEADER_EPOCH_OFFSET),
    maxTimestamp: readInt64(buf, position + MAX_TIMESTAMP_OFFSET),
  };
}

export interface ValidatedBatch extends BatchExtent {
  readonly lastOffsetDelta: number;
  readonly recordCount: number;
}

/** Why a stored batch is not a whole, valid batch; null when it is. Used by recovery. */
export function checkStoredBatch(buf: Buffer, position: number, end: number): string | null {
  if (end - position < BATCH_HEADER_BYTES) return 'torn header';
  const batchLength = buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
  if (batchLength < MIN_BATCH_LENGTH) return `batchLength ${batchLength} below ${MIN_BATCH_LENGTH}`;
  if (batchLength > end - position - LOG_OVERHEAD_BYTES) return 'torn batch';
  const magic = buf.readInt8(position + MAGIC_OFFSET);
  if (magic !== CURRENT_MAGIC) return `magic ${magic}`;
  const batchEnd = position + LOG_OVERHEAD_BYTES + batchLength;
  const stored = buf.readUInt32BE(position + CRC_OFFSET);
  const computed = crc32c(buf.subarray(position + ATTRIBUTES_OFFSET, batchEnd));
  if (stored !== computed) return `crc ${stored} != ${computed}`;
  if (buf.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET) < 0) return 'negative lastOffsetDelta';
  return null;
}

/**
 * Validates concatenated batches received for append: framing (whole batches, nothing trailing), magic,
 * CRC and size. Throws CorruptRecordError / RecordTooLargeError / InvalidRecordError; never mutates.
 * `requireDenseOffsets` (leader appends) demands recordCount = lastOffsetDelta + 1, because the leader
 * assigns recordCount offsets without decoding records.
 */
export function validateBatches(
  buf: Buffer,
  opts: { readonly maxBatchBytes: number; readonly requireDenseOffsets: boolean },
): ValidatedBatch[] {
  const batches: ValidatedBatch[] = [];
  if (buf.length === 0) throw new InvalidRecordError('no record batches to append');
  let position = 0;
  while (position < buf.length) {
    const remaining = buf.length - position;
    if (remaining < BATCH_HEADER_BYTES) {
      throw new CorruptRecordError(`batch at byte ${position}: ${remaining} bytes, header needs ${BATCH_HEADER_BYTES}`);
    }
    const batchLength = buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
    if (batchLength < MIN_BATCH_LENGTH) {
      throw new CorruptRecordError(`batch at byte ${position}: batchLength ${batchLength} below ${MIN_BATCH_LENGTH}`);
    }
    const sizeBytes = LOG_OVERHEAD_BYTES + batchLength;
    if (sizeBytes > opts.maxBatchBytes) {
      throw new RecordTooLargeError(`batch at byte ${position}: ${sizeBytes} bytes exceeds max.message.bytes ${opts.maxBatchBytes}`);
    }
    if (sizeBytes > remaining) {
      throw new CorruptRecordError(`batch at byte ${position}: batchLength ${batchLength} runs past the end (${remaining} bytes left)`);
    }
    const magic = buf.readInt8(position + MAGIC_OFFSET);
    if (magic !== CURRENT_MAGIC) throw new CorruptRecordError(`batch at byte ${position}: magic ${magic}, expected ${CURRENT_MAGIC}`);
    const stored = buf.readUInt32BE(position + CRC_OFFSET);
    const computed = crc32c(buf.subarray(position + ATTRIBUTES_OFFSET, position + sizeBytes));
    if (stored !== computed) {
      throw new CorruptRecordError(`batch at byte ${position}: crc ${stored} does not match computed ${computed}`);
    }
    const lastOffsetDelta = buf.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET);
    const recordCount = buf.readInt32BE(position + RECORD_COUNT_OFFSET);
    if (lastOffsetDelta < 0) throw new InvalidRecordError(`batch at byte ${position}: lastOffsetDelta ${lastOffsetDelta} < 0`);
    if (recordCount < 1) throw new InvalidRecordError(`batch at byte ${position}: recordCount ${recordCount} < 1`);
    if (opts.requireDenseOffsets && recordCount !== lastOffsetDelta + 1) {
      throw new InvalidRecordError(`batch at byte ${position}: recordCount ${recordCount} != lastOffsetDelta + 1 (${lastOffsetDelta + 1})`);
    }
    const baseOffset = readInt64(buf, position + BASE_OFFSET_OFFSET);
    batches.push({
      position,
      sizeBytes,
      baseOffset,
      lastOffset: baseOffset + lastOffsetDelta,
      partitionLeaderEpoch: buf.readInt32BE(position + PARTITION_LEADER_EPOCH_OFFSET),
      maxTimestamp: readInt64(buf, position + MAX_TIMESTAMP_OFFSET),
      lastOffsetDelta,
      recordCount,
    });
    position += sizeBytes;
  }
  return batches;
}

/** Rewrites a batch as LogAppendTime: sets attribute bit 3 and maxTimestamp, then recomputes the CRC. */
export function stampLogAppendTime(buf: Buffer, position: number, sizeBytes: number, logAppendTimeMs: number): void {
  const attributes = buf.readInt16BE(position + ATTRIBUTES_OFFSET);
  buf.writeInt16BE(attributes | LOG_APPEND_TIME_FLAG, position + ATTRIBUTES_OFFSET);
  writeInt64(buf, position + MAX_TIMESTAMP_OFFSET, logAppendTimeMs);
  buf.writeUInt32BE(crc32c(buf.subarray(position + ATTRIBUTES_OFFSET, position + sizeBytes)), position + CRC_OFFSET);
}
