// What storage needs of the record batch format, on top of @tributary/record-format (which owns the layout,
// the batch walk and the CRC; docs/record-format.md). Storage never looks past the header on the append,
// replication and fetch paths: records stay opaque bytes.
//
// Trust: a leader append carries batches the broker validated once at the edge (framing, magic, CRC and
// every record, validateBatches + validateProducedBatch), so storage re-asserts their framing but does not
// recompute their CRC; when the edge's headers come with the bytes (checkValidatedBatches) it does not
// re-parse them either. A follower append carries bytes from the network and is fully checked here, CRC too.
import assert from 'node:assert/strict';
import {
  type BatchHeader,
  BATCH_HEADER_BYTES,
  BASE_OFFSET_OFFSET,
  BATCH_LENGTH_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD_BYTES,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  RecordFormatError,
  batchSizeAt,
  batchesIn,
  verifyBatchCrc,
} from '@tributary/record-format';
import { CorruptRecordError, InvalidRecordError, RecordTooLargeError, type StorageError } from './errors.js';

export {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD_BYTES,
  MAX_TIMESTAMP_OFFSET,
  MIN_BATCH_LENGTH,
  PARTITION_LEADER_EPOCH_OFFSET,
  writeInt64,
} from '@tributary/record-format';

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

/**
 * Reads the extent of the batch at `position`, or null when the buffer does not hold at least
 * EXTENT_HEADER_BYTES there. Does not check magic or CRC: for the header-only walks over the log's own
 * (recovered or appended) bytes, which may end in a partial batch.
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

/** Why the stored batch at `position` (within [0, end) of `buf`) is not whole and valid; null when it is. Used by recovery. */
export function checkStoredBatch(buf: Buffer, position: number, end: number): string | null {
  if (end - position < BATCH_HEADER_BYTES) return 'torn header';
  const view = end === buf.length ? buf : buf.subarray(0, end);
  try {
    verifyBatchCrc(view, position, batchSizeAt(view, position));
  } catch (err) {
    if (err instanceof RecordFormatError) return err.message;
    throw err;
  }
  if (buf.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET) < 0) return 'negative lastOffsetDelta';
  return null;
}

/** Storage's typed error for a record format failure (storage's errors carry Kafka names as codes). */
function asStorageError(err: RecordFormatError): StorageError {
  switch (err.errorName) {
    case 'MESSAGE_TOO_LARGE':
      return new RecordTooLargeError(err.message, { cause: err });
    case 'INVALID_RECORD':
      return new InvalidRecordError(err.message, { cause: err });
    default:
      return new CorruptRecordError(err.message, { cause: err });
  }
}

/**
 * Checks the framing of concatenated batches received for append (whole batches, nothing trailing, magic,
 * size, header fields; the CRC too unless `verifyCrc` is false) and returns what storage needs of each.
 * Throws CorruptRecordError / RecordTooLargeError / InvalidRecordError; never mutates.
 * `requireDenseOffsets` (leader appends) demands recordCount = lastOffsetDelta + 1 ≥ 1, because the
 * leader assigns recordCount offsets without decoding records; without it (followers) recordCount may
 * be anything from 0 to lastOffsetDelta + 1 (compacted batches).
 */
export function checkAppendBatches(
  buf: Buffer,
  opts: { readonly maxBatchBytes: number; readonly requireDenseOffsets: boolean; readonly verifyCrc: boolean },
): ValidatedBatch[] {
  if (buf.length === 0) throw new InvalidRecordError('no record batches to append');
  const batches: ValidatedBatch[] = [];
  try {
    for (const h of batchesIn(buf, { maxBatchBytes: opts.maxBatchBytes, verifyCrc: opts.verifyCrc })) {
      const where = `batch at byte ${h.position}`;
      // A leader append must carry records; a follower's may be an empty batch the leader's cleaner
      // left to keep a producer's header (log-cleaner.ts), as Kafka allows.
      if (h.recordCount < 1 && opts.requireDenseOffsets) throw new InvalidRecordError(`${where}: recordCount ${h.recordCount} < 1`);
      if (opts.requireDenseOffsets && h.recordCount !== h.lastOffsetDelta + 1) {
        throw new InvalidRecordError(`${where}: recordCount ${h.recordCount} != lastOffsetDelta + 1 (${h.lastOffsetDelta + 1})`);
      }
      batches.push(h);
    }
  } catch (err) {
    if (err instanceof RecordFormatError) throw asStorageError(err);
    throw err;
  }
  return batches;
}

/**
 * The leader-append check when the broker hands over the headers its edge validation read from `buf`
 * (validateBatches): nothing is re-parsed. Asserts (a mismatch is a bug in this process, not bad input)
 * that the headers tile `buf` exactly — the first at 0, each where the previous ends, the last at the
 * end — and that each batch's batchLength and lastOffsetDelta fields in `buf` still say what its header
 * says, so bytes and headers belong together (the offsets assigned are the ones the bytes claim). Then
 * applies the same typed checks as checkAppendBatches from the header fields: size limit
 * (RecordTooLargeError), recordCount ≥ 1 and, with `requireDenseOffsets`, recordCount =
 * lastOffsetDelta + 1 (InvalidRecordError). Cost: two 4-byte reads per batch.
 */
export function checkValidatedBatches(
  buf: Buffer,
  headers: readonly BatchHeader[],
  opts: { readonly maxBatchBytes: number; readonly requireDenseOffsets: boolean },
): readonly BatchHeader[] {
  if (buf.length === 0) throw new InvalidRecordError('no record batches to append');
  assert.ok(headers.length > 0, `${buf.length} bytes to append come with no batch header`);
  let end = 0;
  for (const h of headers) {
    assert.ok(h.position === end, `batch header at position ${h.position}, expected ${end} (headers do not tile the appended bytes)`);
    assert.ok(
      h.sizeBytes >= BATCH_HEADER_BYTES && h.position + h.sizeBytes <= buf.length && buf.readInt32BE(h.position + BATCH_LENGTH_OFFSET) === h.sizeBytes - LOG_OVERHEAD_BYTES,
      `batch at byte ${h.position}: its header says ${h.sizeBytes} bytes, the appended bytes disagree`,
    );
    // The offsets the log assigns come from the header: they must be the ones the bytes will claim.
    assert.ok(
      buf.readInt32BE(h.position + LAST_OFFSET_DELTA_OFFSET) === h.lastOffsetDelta,
      `batch at byte ${h.position}: its header says lastOffsetDelta ${h.lastOffsetDelta}, the appended bytes disagree`,
    );
    end += h.sizeBytes;
    const where = `batch at byte ${h.position}`;
    if (h.sizeBytes > opts.maxBatchBytes) {
      throw new RecordTooLargeError(`${where} is ${h.sizeBytes} bytes, over the limit of ${opts.maxBatchBytes}`);
    }
    if (h.recordCount < 1) throw new InvalidRecordError(`${where}: recordCount ${h.recordCount} < 1`);
    if (opts.requireDenseOffsets && h.recordCount !== h.lastOffsetDelta + 1) {
      throw new InvalidRecordError(`${where}: recordCount ${h.recordCount} != lastOffsetDelta + 1 (${h.lastOffsetDelta + 1})`);
    }
  }
  assert.ok(end === buf.length, `batch headers cover ${end} of the ${buf.length} appended bytes`);
  return headers;
}
