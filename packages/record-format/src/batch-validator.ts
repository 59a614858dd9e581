// What the leader checks in a produced batch before it appends it (Kafka's LogValidator): the header's
// record count and offset range agree with the records, every record is well formed down to its varints
// and header keys, offset deltas are 0, 1, 2, ..., and a compressed record section inflates within a hard
// bound. A batch that passes decodes with decodeRecordBatch (record-batch.ts): the broker never stores a
// batch its consumers cannot read.
//
// The walk allocates nothing per record (no record objects, no views, no per-field strings): it reads the
// varints in place and skips the bytes they describe. Framing, magic and CRC are validateBatches' job
// (batch-header.ts), which must have passed first.
import { isUtf8 } from 'node:buffer';
import { RECORDS_OFFSET, type BatchHeader } from './batch-header.js';
import { inflateBounded } from './compression.js';
import { CorruptRecordError, InvalidRecordError } from './errors.js';
import { MIN_RECORD_BYTES } from './record-batch.js';
import { ByteCursor } from './varint.js';

export interface ProducedBatchLimits {
  /**
   * Largest record section after decompression, bytes. The broker passes the topic's max.message.bytes:
   * a compressed batch may not stand for more record bytes than an uncompressed one could carry.
   * Decompression stops as soon as its output passes this bound (MessageTooLargeError).
   */
  readonly maxUncompressedBytes: number;
}

/**
 * Validates the records of the produced batch described by `header` (read from `buf` by validateBatches,
 * so framing, magic and CRC already hold). Throws, and only throws, TributaryErrors:
 * - InvalidRecordError: a control batch, no record, lastOffsetDelta ≠ recordCount − 1, the record section
 *   holds fewer or more records than recordCount, or an offsetDelta out of sequence;
 * - CorruptRecordError: a malformed record (length, varint, negative size, bad attributes, header key not
 *   UTF-8, timestamp out of range) or a compressed section that does not decompress;
 * - MessageTooLargeError: the section inflates past `limits.maxUncompressedBytes`.
 */
export function validateProducedBatch(buf: Buffer, header: BatchHeader, limits: ProducedBatchLimits): void {
  const where = `batch at position ${header.position}`;
  const { recordCount, lastOffsetDelta } = header;
  if (header.control) throw new InvalidRecordError(`${where}: clients may not write control batches`);
  if (recordCount < 1) throw new InvalidRecordError(`${where}: a batch needs at least one record, recordCount is ${recordCount}`);
  // The leader assigns lastOffsetDelta + 1 offsets without looking at the records, so the two must agree.
  if (lastOffsetDelta !== recordCount - 1) {
    throw new InvalidRecordError(`${where}: lastOffsetDelta ${lastOffsetDelta} does not match recordCount ${recordCount} (must be recordCount - 1)`);
  }
  const stored = buf.subarray(header.position + RECORDS_OFFSET, header.position + header.sizeBytes);
  // Refuse an absurd count before inflating anything: every record takes at least MIN_RECORD_BYTES.
  const roomBytes = header.compression === 'none' ? stored.length : limits.maxUncompressedBytes;
  if (recordCount > roomBytes / MIN_RECORD_BYTES) {
    throw new InvalidRecordError(`${where}: recordCount ${recordCount} cannot fit in ${roomBytes} record bytes`);
  }
  const section = inflateBounded(header.compression, stored, limits.maxUncompressedBytes);
  walkRecords(section, header, where);
}

// Field names for the cursor's error messages: constants, so the hot loop builds no strings.
const LENGTH = 'record length';
const TIMESTAMP_DELTA = 'timestampDelta';
const OFFSET_DELTA = 'offsetDelta';
const KEY = 'key';
const VALUE = 'value';
const HEADER_COUNT = 'headerCount';
const HEADER_KEY = 'header key';
const HEADER_VALUE = 'header value';

/** Skips a varint-length-prefixed byte string that may be null (length −1). */
function skipNullableBytes(cur: ByteCursor, what: string): void {
  const length = cur.readVarint(what);
  if (length === -1) return;
  if (length < -1) throw new CorruptRecordError(`${what}: negative length ${length}`);
  cur.need(length, what);
  cur.pos += length;
}

function walkRecords(section: Buffer, header: BatchHeader, where: string): void {
  const { recordCount, baseTimestamp } = header;
  const cur = new ByteCursor(section, 0, section.length);
  let i = 0;
  try {
    for (; i < recordCount; i++) {
      if (cur.pos === section.length) {
        throw new InvalidRecordError(`recordCount is ${recordCount} but the record section ends after ${i} record(s)`);
      }
      const length = cur.readVarint(LENGTH);
      if (length < MIN_RECORD_BYTES - 1 || length > cur.remaining()) {
        throw new CorruptRecordError(`length ${length} outside [${MIN_RECORD_BYTES - 1}, ${cur.remaining()}]`);
      }
      const recordEnd = cur.pos + length;
      cur.end = recordEnd;
      const attributes = section[cur.pos++]!;
      if (attributes !== 0) throw new CorruptRecordError(`unknown record attributes ${attributes}`);
      const timestampDelta = cur.readVarlong(TIMESTAMP_DELTA);
      if (!Number.isSafeInteger(baseTimestamp + timestampDelta)) throw new CorruptRecordError(`timestamp ${baseTimestamp} + ${timestampDelta} is not a safe integer`);
      const offsetDelta = cur.readVarint(OFFSET_DELTA);
      if (offsetDelta !== i) throw new InvalidRecordError(`offsetDelta ${offsetDelta}, expected ${i} (offset deltas of a produced batch are 0, 1, 2, ...)`);
      skipNullableBytes(cur, KEY);
      skipNullableBytes(cur, VALUE);
      const headerCount = cur.readVarint(HEADER_COUNT);
      // Each header takes at least 2 bytes (key length, value length).
      if (headerCount < 0 || headerCount * 2 > cur.remaining()) throw new CorruptRecordError(`headerCount ${headerCount} does not fit the record`);
      for (let h = 0; h < headerCount; h++) {
        const keyLength = cur.readVarint(HEADER_KEY);
        if (keyLength < 0) throw new CorruptRecordError(`header ${h}: key length ${keyLength}`);
        cur.need(keyLength, HEADER_KEY);
        // Consumers decode header keys as strict UTF-8 (record-batch.ts): refuse what they would.
        if (keyLength > 0 && !isUtf8(section.subarray(cur.pos, cur.pos + keyLength))) throw new CorruptRecordError(`header ${h}: key is not valid UTF-8`);
        cur.pos += keyLength;
        skipNullableBytes(cur, HEADER_VALUE);
      }
      if (cur.pos !== recordEnd) throw new CorruptRecordError(`${recordEnd - cur.pos} unread bytes at the end of the record`);
      cur.end = section.length;
    }
  } catch (err) {
    // Cold path: name the batch and record in the message, keeping the error's class.
    if (err instanceof InvalidRecordError) throw new InvalidRecordError(`${where}, record ${i}: ${err.message}`, { cause: err });
    if (err instanceof CorruptRecordError) throw new CorruptRecordError(`${where}, record ${i}: ${err.message}`, { cause: err });
    // MessageTooLargeError and the like pass as they are; anything else is a bug here and stays loud.
    throw err;
  }
  if (cur.pos !== section.length) {
    throw new InvalidRecordError(`${where}: ${section.length - cur.pos} bytes after the last of its ${recordCount} records`);
  }
}
