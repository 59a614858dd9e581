// The one walk over concatenated record batches. Every reader of a buffer of whole batches (the produce
// path, the in-memory and on-disk logs, fetch, the client's codec) goes through batchesIn, so framing is
// checked the same way everywhere: the header fits, batchLength is sane and within the buffer, magic is 2,
// and (unless the caller says the bytes were verified already) the CRC matches before any CRC-covered
// field is interpreted. A corrupt attribute byte therefore reads as corruption, not as an unknown codec.
import {
  BATCH_HEADER_BYTES, BATCH_LENGTH_OFFSET, LOG_OVERHEAD_BYTES, MIN_BATCH_LENGTH, type BatchHeader, batchSizeAt, readFramedBatchHeader, verifyBatchCrc,
} from './batch-header.js';
import { CorruptRecordError, MessageTooLargeError } from './errors.js';

export interface BatchWalkOptions {
  /**
   * Verify each batch's CRC32C. Default true. Pass false only for bytes whose CRC was verified once
   * already by this process (a produce request after validateBatches, a log's own appended bytes).
   */
  readonly verifyCrc?: boolean;
  /** Largest accepted batch (whole batch, header included); larger → MessageTooLargeError. Default: no limit. */
  readonly maxBatchBytes?: number;
  /** Most batches accepted in the buffer; more → CorruptRecordError. Default: no limit. */
  readonly maxBatches?: number;
  /** Where to start; default 0. The walk ends exactly at the end of the buffer (but see stopAtPartialBatch). */
  readonly startPosition?: number;
  /**
   * Default false: the batches must fill the buffer exactly. True: a partial batch at the end — fewer
   * bytes left than a batch header, or a batchLength (at least the minimum) that runs past the end of
   * the buffer — ends the walk quietly, as a fetch response cut at its byte limit does; its first byte
   * is where the last yielded batch ends. Anything else wrong with it (batchLength below the minimum)
   * still throws, and so does any bad batch before it. A batchLength corrupted into a too-large value is
   * indistinguishable from a cut: callers that must tell them apart look at what follows (the next read).
   */
  readonly stopAtPartialBatch?: boolean;
}

/** True when the bytes from `pos` on are the start of a batch that the buffer cuts short (see stopAtPartialBatch). */
export function isPartialBatchAt(buf: Buffer, pos: number): boolean {
  const available = buf.length - pos;
  if (available < BATCH_HEADER_BYTES) return available > 0;
  const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  return batchLength >= MIN_BATCH_LENGTH && LOG_OVERHEAD_BYTES + batchLength > available;
}

/**
 * Yields the header of every batch in `buf` from `startPosition` on, in order; the batches must fill the
 * rest of `buf` exactly (trailing bytes that do not form a whole batch are a CorruptRecordError), unless
 * `stopAtPartialBatch` lets a partial last batch end the walk. Each
 * header's `position` and `sizeBytes` say where the batch lies. Throws CorruptRecordError,
 * MessageTooLargeError or UnsupportedCompressionError at the first bad batch; the batches before it have
 * been yielded. Reads headers only: record bytes are never parsed.
 */
export function* batchesIn(buf: Buffer, options: BatchWalkOptions = {}): Generator<BatchHeader, void, undefined> {
  const {
    verifyCrc = true,
    maxBatchBytes = Number.POSITIVE_INFINITY,
    maxBatches = Number.POSITIVE_INFINITY,
    startPosition = 0,
    stopAtPartialBatch = false,
  } = options;
  let pos = startPosition;
  let count = 0;
  while (pos < buf.length) {
    if (stopAtPartialBatch && isPartialBatchAt(buf, pos)) return;
    if (count >= maxBatches) throw new CorruptRecordError(`more than ${maxBatches} batches`);
    const sizeBytes = batchSizeAt(buf, pos);
    if (sizeBytes > maxBatchBytes) {
      throw new MessageTooLargeError(`batch at position ${pos} is ${sizeBytes} bytes, over the limit of ${maxBatchBytes}`);
    }
    if (verifyCrc) verifyBatchCrc(buf, pos, sizeBytes);
    yield readFramedBatchHeader(buf, pos, sizeBytes);
    count++;
    pos += sizeBytes;
  }
}

/**
 * Walks the concatenated batches filling `buf` exactly: framing, magic, CRC, then header fields. Returns
 * their headers in order. Throws CorruptRecordError (including for an empty buffer or trailing bytes),
 * MessageTooLargeError, or UnsupportedCompressionError. This is the edge check of every produced batch.
 */
export function validateBatches(buf: Buffer, options: ValidateBatchesOptions = {}): BatchHeader[] {
  if (buf.length === 0) throw new CorruptRecordError('no record batch in an empty buffer');
  return Array.from(batchesIn(buf, { ...options, verifyCrc: true, stopAtPartialBatch: false }));
}

/** Options validateBatches takes (kept as a name for its callers). A produced buffer is whole: no partial batch. */
export type ValidateBatchesOptions = Omit<BatchWalkOptions, 'verifyCrc' | 'startPosition' | 'stopAtPartialBatch'>;
