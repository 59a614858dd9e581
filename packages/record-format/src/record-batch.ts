// Encoding and full decoding of record batches (header + varint records). The broker's hot path does not
// come here (see batch-header.ts); producers, consumers, the broker's convenience `repeated Record` path and
// tools do.
import assert from 'node:assert/strict';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  type BatchHeader,
  batchSizeAt,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  CURRENT_MAGIC,
  computeBatchCrc,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD_BYTES,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  readBatchHeader,
  TIMESTAMP_TYPE_MASK,
  type TimestampType,
  TRANSACTIONAL_FLAG_MASK,
  verifyBatchCrc,
} from './batch-header.js';
import { COMPRESSION_CODE, type Compression, COMPRESSIONS, compress, DEFAULT_MAX_DECOMPRESSED_BYTES, decompress } from './compression.js';
import { CorruptRecordError, InvalidArgumentError, MessageTooLargeError } from './errors.js';
import {
  assertInt32,
  assertSafeInteger,
  ByteCursor,
  sizeOfVarint,
  sizeOfVarlong,
  writeInt64,
  writeVarint,
  writeVarlong,
} from './varint.js';

export interface RecordHeader {
  readonly key: string;
  readonly value: Uint8Array | null;
}

export interface RecordInput {
  /** null or absent: no key. */
  readonly key?: Uint8Array | null;
  /** null: a tombstone. */
  readonly value: Uint8Array | null;
  readonly headers?: readonly RecordHeader[];
  /** Epoch ms; absent: the batch's baseTimestamp. */
  readonly timestamp?: number;
}

export interface RecordBatchInput {
  /** At least one record. Offset deltas are assigned densely: 0 .. records.length - 1. */
  readonly records: readonly RecordInput[];
  /** Default 0: producers leave it to the leader, which stamps it (stampBatch). */
  readonly baseOffset?: number;
  /** Default -1. */
  readonly partitionLeaderEpoch?: number;
  /** Default 'none'. */
  readonly compression?: Compression;
  /** Default 'create'. */
  readonly timestampType?: TimestampType;
  /**
   * Timestamp (epoch ms) the record timestamps are deltas from, and the timestamp of records that carry
   * none. Default: the first record's timestamp. Required when the first record has no timestamp: this
   * module never reads a clock.
   */
  readonly baseTimestamp?: number;
  /** Default -1 (not idempotent). */
  readonly producerId?: number;
  /** Default -1. */
  readonly producerEpoch?: number;
  /** Sequence number of the first record; default -1. */
  readonly baseSequence?: number;
  readonly transactional?: boolean;
  /** Control batches carry transaction markers, never user records. */
  readonly control?: boolean;
}

/** A decoded record. `key`, `value` and header values are views into the decoded bytes, not copies. */
export interface DecodedRecord {
  readonly offset: number;
  /** Epoch ms: the record's own CreateTime, or the batch's maxTimestamp when it is LogAppendTime. */
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly DecodedRecordHeader[];
}

export interface DecodedRecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface RecordBatch extends BatchHeader {
  readonly records: readonly DecodedRecord[];
}

export interface DecodeOptions {
  /** Largest accepted batch (whole batch); larger → MessageTooLargeError. Default: no limit. */
  readonly maxBatchBytes?: number;
  /** Largest decompressed record section; larger → CorruptRecordError. Default DEFAULT_MAX_DECOMPRESSED_BYTES. */
  readonly maxDecompressedBytes?: number;
}

/**
 * Every record takes at least 7 bytes: length, attributes, timestampDelta, offsetDelta, keyLength,
 * valueLength and headerCount, one byte each. Used to reject absurd recordCounts before looping.
 */
export const MIN_RECORD_BYTES = 7;

const INT16_MIN = -(2 ** 15);
const INT16_MAX = 2 ** 15 - 1;
const INT32_MAX = 2 ** 31 - 1;

/** In unicode mode a paired surrogate is one code point, so this matches only lone surrogates. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Strict UTF-8 (invalid sequences are corruption) that keeps a leading BOM, so header keys round-trip. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------------------
// Encoding

function checkBytes(value: unknown, field: string): void {
  if (value !== null && !(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(field, 'must be a Uint8Array or null');
  }
}

function bytesSize(value: Uint8Array | null | undefined): number {
  return value == null ? sizeOfVarint(-1) : sizeOfVarint(value.length) + value.length;
}

function writeBytes(buf: Buffer, pos: number, value: Uint8Array | null | undefined): number {
  if (value == null) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, value.length);
  buf.set(value, pos);
  return pos + value.length;
}

/** Validates the input and computes each record's body size (everything after its length varint). */
function planRecords(input: RecordBatchInput, baseTimestamp: number): { bodySizes: number[]; recordsBytes: number; maxTimestamp: number } {
  const bodySizes: number[] = new Array<number>(input.records.length);
  let recordsBytes = 0;
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  input.records.forEach((record, i) => {
    const field = `records[${i}]`;
    if (record === null || typeof record !== 'object') throw new InvalidArgumentError(field, 'must be an object');
    const key = record.key ?? null;
    checkBytes(key, `${field}.key`);
    if (record.value === undefined) throw new InvalidArgumentError(`${field}.value`, 'is required (null for a tombstone)');
    checkBytes(record.value, `${field}.value`);
    const timestamp = record.timestamp ?? baseTimestamp;
    assertSafeInteger(timestamp, `${field}.timestamp`);
    const timestampDelta = timestamp - baseTimestamp;
    assertSafeInteger(timestampDelta, `${field}.timestamp`);
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const headers = record.headers ?? [];
    if (!Array.isArray(headers)) throw new InvalidArgumentError(`${field}.headers`, 'must be an array');
    let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(i) + bytesSize(key) + bytesSize(record.value) + sizeOfVarint(headers.length);
    headers.forEach((header: RecordHeader, h: number) => {
      const hField = `${field}.headers[${h}]`;
      if (typeof header?.key !== 'string') throw new InvalidArgumentError(`${hField}.key`, 'must be a string');
      // A lone surrogate would be written as U+FFFD and read back as a different key.
      if (LONE_SURROGATE.test(header.key)) throw new InvalidArgumentError(`${hField}.key`, 'is not well-formed UTF-16');
      if (header.value === undefined) throw new InvalidArgumentError(`${hField}.value`, 'is required (may be null)');
      checkBytes(header.value, `${hField}.value`);
      const keyBytes = Buffer.byteLength(header.key, 'utf8');
      size += sizeOfVarint(keyBytes) + keyBytes + bytesSize(header.value);
    });
    if (size > INT32_MAX) throw new MessageTooLargeError(`${field} is ${size} bytes, more than a record can hold`);
    bodySizes[i] = size;
    recordsBytes += sizeOfVarint(size) + size;
  });
  return { bodySizes, recordsBytes, maxTimestamp };
}

function writeRecords(buf: Buffer, start: number, input: RecordBatchInput, bodySizes: readonly number[], baseTimestamp: number): number {
  let pos = start;
  input.records.forEach((record, i) => {
    pos = writeVarint(buf, pos, bodySizes[i]!);
    const bodyStart = pos;
    buf[pos++] = 0; // record attributes: unused
    pos = writeVarlong(buf, pos, (record.timestamp ?? baseTimestamp) - baseTimestamp);
    pos = writeVarint(buf, pos, i);
    pos = writeBytes(buf, pos, record.key);
    pos = writeBytes(buf, pos, record.value);
    const headers = record.headers ?? [];
    pos = writeVarint(buf, pos, headers.length);
    for (const header of headers) {
      const keyBytes = Buffer.byteLength(header.key, 'utf8');
      pos = writeVarint(buf, pos, keyBytes);
      pos += buf.write(header.key, pos, keyBytes, 'utf8');
      pos = writeBytes(buf, pos, header.value);
    }
    assert.equal(pos - bodyStart, bodySizes[i], 'record body size');
  });
  return pos;
}

function optionalInt(value: number | undefined, fallback: number, field: string, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new InvalidArgumentError(field, `${v} is not an integer in [${min}, ${max}]`);
  return v;
}

/**
 * Encodes one batch. Returns a fresh buffer owned by the caller. Throws InvalidArgumentError naming the bad
 * field (including an empty `records`), or MessageTooLargeError when the batch cannot be framed.
 */
export function encodeRecordBatch(input: RecordBatchInput): Buffer {
  if (!Array.isArray(input.records) || input.records.length === 0) {
    throw new InvalidArgumentError('records', 'a batch needs at least one record');
  }
  if (input.records.length > INT32_MAX) throw new InvalidArgumentError('records', 'too many records for one batch');
  const baseOffset = optionalInt(input.baseOffset, 0, 'baseOffset', 0, Number.MAX_SAFE_INTEGER - input.records.length);
  const partitionLeaderEpoch = optionalInt(input.partitionLeaderEpoch, NO_PARTITION_LEADER_EPOCH, 'partitionLeaderEpoch', -1, INT32_MAX);
  const producerId = optionalInt(input.producerId, NO_PRODUCER_ID, 'producerId', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const producerEpoch = optionalInt(input.producerEpoch, NO_PRODUCER_EPOCH, 'producerEpoch', INT16_MIN, INT16_MAX);
  const baseSequence = optionalInt(input.baseSequence, NO_SEQUENCE, 'baseSequence', -(2 ** 31), INT32_MAX);
  const compression = input.compression ?? 'none';
  if (!COMPRESSIONS.includes(compression)) throw new InvalidArgumentError('compression', `unknown compression ${JSON.stringify(compression)}`);
  const timestampType = input.timestampType ?? 'create';
  if (timestampType !== 'create' && timestampType !== 'log-append') {
    throw new InvalidArgumentError('timestampType', `must be 'create' or 'log-append', not ${JSON.stringify(timestampType)}`);
  }
  const baseTimestamp = input.baseTimestamp ?? input.records[0]?.timestamp;
  if (baseTimestamp === undefined) {
    throw new InvalidArgumentError('baseTimestamp', 'is required when the first record has no timestamp');
  }
  assertSafeInteger(baseTimestamp, 'baseTimestamp');

  const { bodySizes, recordsBytes, maxTimestamp } = planRecords(input, baseTimestamp);

  let batch: Buffer;
  if (compression === 'none') {
    batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + recordsBytes);
    const end = writeRecords(batch, RECORDS_OFFSET, input, bodySizes, baseTimestamp);
    assert.equal(end, batch.length, 'uncompressed batch size');
  } else {
    const plain = Buffer.allocUnsafe(recordsBytes);
    assert.equal(writeRecords(plain, 0, input, bodySizes, baseTimestamp), recordsBytes, 'record section size');
    const compressed = compress(compression, plain);
    batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length);
    compressed.copy(batch, RECORDS_OFFSET);
  }
  const batchLength = batch.length - LOG_OVERHEAD_BYTES;
  if (batchLength > INT32_MAX) throw new MessageTooLargeError(`batch of ${batch.length} bytes cannot be framed`);

  let attributes = COMPRESSION_CODE[compression];
  if (timestampType === 'log-append') attributes |= TIMESTAMP_TYPE_MASK;
  if (input.transactional === true) attributes |= TRANSACTIONAL_FLAG_MASK;
  if (input.control === true) attributes |= CONTROL_FLAG_MASK;

  writeInt64(batch, BASE_OFFSET_OFFSET, baseOffset);
  batch.writeInt32BE(batchLength, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(partitionLeaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(CURRENT_MAGIC, MAGIC_OFFSET);
  batch.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(input.records.length - 1, LAST_OFFSET_DELTA_OFFSET);
  writeInt64(batch, BASE_TIMESTAMP_OFFSET, baseTimestamp);
  writeInt64(batch, MAX_TIMESTAMP_OFFSET, maxTimestamp);
  writeInt64(batch, PRODUCER_ID_OFFSET, producerId);
  batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(baseSequence, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(input.records.length, RECORD_COUNT_OFFSET);
  // Last: the CRC covers everything from the attributes on, all written above.
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), CRC_OFFSET);
  return batch;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

function readNullableBytes(cur: ByteCursor, what: string): Buffer | null {
  const length = cur.readVarint(what);
  if (length === -1) return null;
  if (length < -1) throw new CorruptRecordError(`${what}: negative length ${length}`);
  return cur.readBytes(length, what);
}

function readRecords(header: BatchHeader, section: Buffer): DecodedRecord[] {
  const { recordCount, lastOffsetDelta, baseOffset, baseTimestamp } = header;
  const where = `batch at offset ${baseOffset}`;
  if (recordCount * MIN_RECORD_BYTES > section.length) {
    throw new CorruptRecordError(`${where}: recordCount ${recordCount} cannot fit in ${section.length} record bytes`);
  }
  const logAppendTime = header.timestampType === 'log-append';
  const records: DecodedRecord[] = new Array<DecodedRecord>(recordCount);
  const cur = new ByteCursor(section, 0, section.length);
  let previousOffsetDelta = -1;
  for (let i = 0; i < recordCount; i++) {
    const what = `${where}, record ${i}`;
    const length = cur.readVarint(`${what} length`);
    if (length < MIN_RECORD_BYTES - 1 || length > cur.remaining()) {
      throw new CorruptRecordError(`${what}: length ${length} outside [${MIN_RECORD_BYTES - 1}, ${cur.remaining()}]`);
    }
    const recordEnd = cur.pos + length;
    const sectionEnd = cur.end;
    cur.end = recordEnd;
    const attributes = cur.readInt8(`${what} attributes`);
    if (attributes !== 0) throw new CorruptRecordError(`${what}: unknown record attributes ${attributes}`);
    const timestampDelta = cur.readVarlong(`${what} timestampDelta`);
    const offsetDelta = cur.readVarint(`${what} offsetDelta`);
    if (offsetDelta <= previousOffsetDelta || offsetDelta > lastOffsetDelta) {
      throw new CorruptRecordError(`${what}: offsetDelta ${offsetDelta} not in (${previousOffsetDelta}, ${lastOffsetDelta}]`);
    }
    previousOffsetDelta = offsetDelta;
    let timestamp = header.maxTimestamp;
    if (!logAppendTime) {
      timestamp = baseTimestamp + timestampDelta;
      if (!Number.isSafeInteger(timestamp)) throw new CorruptRecordError(`${what}: timestamp is not a safe integer`);
    }
    const key = readNullableBytes(cur, `${what} key`);
    const value = readNullableBytes(cur, `${what} value`);
    const headerCount = cur.readVarint(`${what} headerCount`);
    // Each header takes at least 2 bytes (key length, value length).
    if (headerCount < 0 || headerCount * 2 > cur.remaining()) {
      throw new CorruptRecordError(`${what}: headerCount ${headerCount} does not fit the record`);
    }
    const headers: DecodedRecordHeader[] = new Array<DecodedRecordHeader>(headerCount);
    for (let h = 0; h < headerCount; h++) {
      const keyLength = cur.readVarint(`${what} header ${h} key length`);
      if (keyLength < 0) throw new CorruptRecordError(`${what} header ${h}: key length ${keyLength}`);
      const keyBytes = cur.readBytes(keyLength, `${what} header ${h} key`);
      let headerKey: string;
      try {
        headerKey = utf8.decode(keyBytes);
      } catch (cause) {
        throw new CorruptRecordError(`${what} header ${h}: key is not valid UTF-8`, { cause });
      }
      headers[h] = { key: headerKey, value: readNullableBytes(cur, `${what} header ${h} value`) };
    }
    if (cur.pos !== recordEnd) {
      throw new CorruptRecordError(`${what}: ${recordEnd - cur.pos} unread bytes at the end of the record`);
    }
    cur.end = sectionEnd;
    records[i] = { offset: baseOffset + offsetDelta, timestamp, key, value, headers };
  }
  if (cur.pos !== section.length) {
    throw new CorruptRecordError(`${where}: ${section.length - cur.pos} bytes after the last of ${recordCount} records`);
  }
  return records;
}

/**
 * Fully decodes the batch at `pos` of `buf`: framing, magic, CRC (all before any record byte is parsed),
 * header fields, decompression, then every record with bounds checks. Returns the batch, whose `sizeBytes`
 * tells where the next one starts. Throws CorruptRecordError for any malformed byte,
 * UnsupportedCompressionError for snappy/zstd, MessageTooLargeError past `maxBatchBytes`.
 * Records hold views into `buf` (uncompressed) or into a fresh decompressed buffer.
 */
export function decodeRecordBatch(buf: Uint8Array, pos: number, options: DecodeOptions = {}): RecordBatch {
  const bytes = asBuffer(buf);
  if (!Number.isSafeInteger(pos) || pos < 0 || pos > bytes.length) {
    throw new InvalidArgumentError('pos', `${pos} is not a position in a ${bytes.length}-byte buffer`);
  }
  const sizeBytes = batchSizeAt(bytes, pos);
  if (options.maxBatchBytes !== undefined && sizeBytes > options.maxBatchBytes) {
    throw new MessageTooLargeError(`batch at position ${pos} is ${sizeBytes} bytes, over the limit of ${options.maxBatchBytes}`);
  }
  verifyBatchCrc(bytes, pos, sizeBytes);
  const header = readBatchHeader(bytes, pos);
  const stored = bytes.subarray(pos + RECORDS_OFFSET, pos + sizeBytes);
  const section = decompress(header.compression, stored, options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES);
  return { ...header, records: readRecords(header, section) };
}

/**
 * Decodes the concatenated batches that fill `buf` exactly (an empty buffer gives []). Trailing bytes that
 * do not form a whole batch are a CorruptRecordError. Same errors and ownership as decodeRecordBatch.
 */
export function decodeRecordBatches(buf: Uint8Array, options: DecodeOptions = {}): RecordBatch[] {
  const batches: RecordBatch[] = [];
  let pos = 0;
  while (pos < buf.byteLength) {
    const batch = decodeRecordBatch(buf, pos, options);
    batches.push(batch);
    pos += batch.sizeBytes;
  }
  return batches;
}
