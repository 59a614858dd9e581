// Record batch generators for the RPC fuzzer: valid batches from our encoder and mutations of them.
// A mutation that changes bytes the CRC covers recomputes the CRC, so the batch gets past the CRC
// check and reaches the validation behind it (record count, offsets, compression, the records
// themselves). Each generator has a name so a run can enable a subset (see FUZZ_GENERATORS).
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  ATTRIBUTES_OFFSET, BASE_OFFSET_OFFSET, BASE_SEQUENCE_OFFSET, BASE_TIMESTAMP_OFFSET, BATCH_LENGTH_OFFSET,
  COMPRESSION_CODEC_MASK, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD_BYTES, MAGIC_OFFSET, MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, RECORD_COUNT_OFFSET, RECORDS_OFFSET,
  computeBatchCrc, encodeRecordBatch, type Compression, type RecordInput,
} from '@tributary/protocol';

/** Producer ids no controller hands out in a fuzz run (blocks of 1000 start at 0): they never collide with a real producer. */
export const FOREIGN_PRODUCER_ID_MIN = 2 ** 40;
/** Producer ids inside the range the controller allocates: a made-up one may collide with a live producer. */
export const ALLOCATED_PRODUCER_ID_MAX = 5_000;
/** Largest decompressed size of a compression bomb the fuzzer sends (above DEFAULT_MAX_DECOMPRESSED_BYTES = 64 MiB). */
export const BOMB_DECOMPRESSED_BYTES_MAX = 80 * 1024 * 1024;
const FUZZ_BASE_TIMESTAMP_MS = 1_700_000_000_000;

const int32Arb = fc.oneof(
  fc.integer({ min: -2, max: 10 }),
  fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 2 ** 30, 1_000_000, 65_535),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
);

const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 16 })),
  value: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 64 }), fc.constant(new Uint8Array(2048).fill(7))),
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 8 })) }), { maxLength: 2 }),
  timestamp: fc.oneof(fc.constant(undefined), fc.integer({ min: FUZZ_BASE_TIMESTAMP_MS - 1000, max: FUZZ_BASE_TIMESTAMP_MS + 1000 })),
});

interface BatchShape {
  readonly records: RecordInput[];
  readonly compression: Compression;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly transactional: boolean;
}

/** A batch our producer could send: producer id -1 (not idempotent) or a foreign id (never allocated). */
function shapeArb(producerIds: fc.Arbitrary<number>): fc.Arbitrary<BatchShape> {
  return fc.record({
    records: fc.array(recordArb, { minLength: 1, maxLength: 5 }),
    compression: fc.constantFrom<Compression>('none', 'none', 'gzip', 'lz4'),
    producerId: producerIds,
    producerEpoch: fc.oneof(fc.constant(0), fc.integer({ min: -1, max: 2 ** 15 - 1 })),
    baseSequence: fc.oneof(fc.constant(0), fc.integer({ min: -1, max: 2 ** 31 - 1 })),
    transactional: fc.constant(false),
  });
}

const safeProducerIds = fc.oneof(fc.constant(-1), fc.integer({ min: FOREIGN_PRODUCER_ID_MIN, max: FOREIGN_PRODUCER_ID_MIN + 2 ** 20 }));

function encodeShape(shape: BatchShape): Buffer {
  const idempotent = shape.producerId >= 0;
  return encodeRecordBatch({
    records: shape.records, compression: shape.compression, baseTimestamp: FUZZ_BASE_TIMESTAMP_MS,
    producerId: shape.producerId, producerEpoch: idempotent ? shape.producerEpoch : -1, baseSequence: idempotent ? shape.baseSequence : -1,
    transactional: shape.transactional,
  });
}

/** Recomputes the CRC over [attributes, end) as far as the buffer and the length field allow. */
function refreshCrc(buf: Buffer): Buffer {
  if (buf.length < RECORDS_OFFSET) return buf;
  const claimed = buf.readInt32BE(BATCH_LENGTH_OFFSET) + LOG_OVERHEAD_BYTES;
  const size = claimed >= RECORDS_OFFSET && claimed <= buf.length ? claimed : buf.length;
  buf.writeUInt32BE(computeBatchCrc(buf, 0, size), CRC_OFFSET);
  return buf;
}

type HeaderField = 'baseOffset' | 'partitionLeaderEpoch' | 'magic' | 'attributes' | 'baseTimestamp' | 'maxTimestamp';
const int64Values = fc.oneof(fc.integer({ min: -2, max: 10 }), fc.constantFrom(-(2 ** 53) + 1, 2 ** 53 - 1, 2 ** 31, -(2 ** 31)), fc.maxSafeInteger());

function writeHeaderField(buf: Buffer, field: HeaderField, value: number): void {
  switch (field) {
    case 'baseOffset': buf.writeBigInt64BE(BigInt(value), BASE_OFFSET_OFFSET); break;
    case 'partitionLeaderEpoch': buf.writeInt32BE(value | 0, PARTITION_LEADER_EPOCH_OFFSET); break;
    case 'magic': buf.writeInt8(((value % 256) + 256) % 256 - 128, MAGIC_OFFSET); break;
    // Attributes other than the codec: timestamp type, transactional, control and unknown bits.
    case 'attributes': buf.writeUInt16BE(((buf.readUInt16BE(ATTRIBUTES_OFFSET) & COMPRESSION_CODEC_MASK) | (value & ~COMPRESSION_CODEC_MASK)) & 0xffff, ATTRIBUTES_OFFSET); break;
    case 'baseTimestamp': buf.writeBigInt64BE(BigInt(value), BASE_TIMESTAMP_OFFSET); break;
    case 'maxTimestamp': buf.writeBigInt64BE(BigInt(value), MAX_TIMESTAMP_OFFSET); break;
  }
}

/** Gzip sections inflating to 1, 16 and 80 MiB of zeros (~1, 16 and 80 KiB compressed), made on first use. */
function gzipBombs(): () => readonly Buffer[] {
  let made: Buffer[] | undefined;
  return () => {
    made ??= [1, 16, 80].map((mib) => gzipSync(Buffer.alloc(Math.min(mib * 1024 * 1024, BOMB_DECOMPRESSED_BYTES_MAX)), { level: 9 }));
    return made;
  };
}

function withRecordsSection(base: Buffer, section: Buffer, codec: number, recordCount: number): Buffer {
  const buf = Buffer.concat([base.subarray(0, RECORDS_OFFSET), section]);
  buf.writeInt32BE(buf.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  buf.writeUInt16BE((buf.readUInt16BE(ATTRIBUTES_OFFSET) & ~COMPRESSION_CODEC_MASK) | codec, ATTRIBUTES_OFFSET);
  buf.writeInt32BE(recordCount, RECORD_COUNT_OFFSET);
  buf.writeInt32BE(Math.max(0, recordCount - 1), LAST_OFFSET_DELTA_OFFSET);
  return refreshCrc(buf);
}

export const BATCH_GENERATOR_NAMES = [
  'batch-valid', 'batch-count', 'batch-header', 'batch-length', 'batch-codec', 'batch-producer', 'batch-producer-collide',
  'batch-records', 'batch-truncate', 'batch-junk', 'batch-bomb', 'batch-random',
] as const;
export type BatchGeneratorName = (typeof BATCH_GENERATOR_NAMES)[number];

/** Each generator yields the bytes of a produce request's record_batch. */
export function batchGenerators(): Record<BatchGeneratorName, fc.Arbitrary<Buffer>> {
  const bombs = gzipBombs();
  return {
    /** Valid batches from our encoder (1-3 concatenated), not idempotent or with a foreign producer id. */
    'batch-valid': fc.array(shapeArb(safeProducerIds), { minLength: 1, maxLength: 3 }).map((shapes) => Buffer.concat(shapes.map(encodeShape))),
    /** recordCount and/or lastOffsetDelta set to anything (incl. 2^31-1, negative, off by one), CRC recomputed. */
    'batch-count': fc.tuple(shapeArb(safeProducerIds), fc.option(int32Arb), fc.option(int32Arb)).map(([shape, count, lastDelta]) => {
      const buf = encodeShape(shape);
      if (count !== null) buf.writeInt32BE(count, RECORD_COUNT_OFFSET);
      if (lastDelta !== null) buf.writeInt32BE(lastDelta, LAST_OFFSET_DELTA_OFFSET);
      if (count === null && lastDelta === null) buf.writeInt32BE(buf.readInt32BE(RECORD_COUNT_OFFSET) + 1, RECORD_COUNT_OFFSET);
      return refreshCrc(buf);
    }),
    /** Header fields outside the CRC (baseOffset, leader epoch, magic) or inside it (attributes bits, timestamps), CRC recomputed. */
    'batch-header': fc.tuple(
      shapeArb(safeProducerIds),
      fc.array(fc.tuple(fc.constantFrom<HeaderField>('baseOffset', 'partitionLeaderEpoch', 'magic', 'attributes', 'baseTimestamp', 'maxTimestamp'), int64Values), { minLength: 1, maxLength: 3 }),
    ).map(([shape, edits]) => {
      const buf = encodeShape(shape);
      for (const [field, value] of edits) writeHeaderField(buf, field, value);
      return refreshCrc(buf);
    }),
    /** The batchLength field set to anything (shorter, longer, negative, huge), CRC recomputed where it can be. */
    'batch-length': fc.tuple(shapeArb(safeProducerIds), int32Arb).map(([shape, length]) => {
      const buf = encodeShape(shape);
      buf.writeInt32BE(length, BATCH_LENGTH_OFFSET);
      return refreshCrc(buf);
    }),
    /** The codec bits changed (0-7) without re-encoding the records section, CRC recomputed. */
    'batch-codec': fc.tuple(shapeArb(safeProducerIds), fc.integer({ min: 0, max: 7 })).map(([shape, codec]) => {
      const buf = encodeShape(shape);
      buf.writeUInt16BE((buf.readUInt16BE(ATTRIBUTES_OFFSET) & ~COMPRESSION_CODEC_MASK) | codec, ATTRIBUTES_OFFSET);
      return refreshCrc(buf);
    }),
    /** Producer id / epoch / sequence anything, but never an id the controller allocates. */
    'batch-producer': fc.tuple(shapeArb(safeProducerIds), fc.option(int64Values.map((v) => (v >= 0 && v < FOREIGN_PRODUCER_ID_MIN ? -v - 2 : v))), fc.option(int32Arb), fc.option(int32Arb)).map(([shape, pid, epoch, seq]) => {
      const buf = encodeShape(shape);
      if (pid !== null) buf.writeBigInt64BE(BigInt(pid), PRODUCER_ID_OFFSET);
      if (epoch !== null) buf.writeInt16BE(((epoch % 65536) + 65536) % 65536 - 32768, PRODUCER_EPOCH_OFFSET);
      if (seq !== null) buf.writeInt32BE(seq, BASE_SEQUENCE_OFFSET);
      return refreshCrc(buf);
    }),
    /** Idempotent batches with made-up producer ids inside the allocated range: may collide with a live producer's id. */
    'batch-producer-collide': fc.tuple(
      shapeArb(fc.integer({ min: 0, max: ALLOCATED_PRODUCER_ID_MAX })),
      fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 200 }),
    ).map(([shape, epoch, seq]) => encodeShape({ ...shape, producerEpoch: epoch, baseSequence: seq })),
    /** Bytes of the records section flipped or overwritten (still the claimed lengths), CRC recomputed. */
    'batch-records': fc.tuple(shapeArb(safeProducerIds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })).map(([shape, edits]) => {
      const buf = encodeShape(shape);
      const span = buf.length - RECORDS_OFFSET;
      for (const [at, value] of edits) if (span > 0) buf[RECORDS_OFFSET + (at % span)] = value;
      return refreshCrc(buf);
    }),
    /** Cut anywhere (before or inside the header or records), length field and CRC left as they were. */
    'batch-truncate': fc.tuple(shapeArb(safeProducerIds), fc.nat()).map(([shape, at]) => {
      const buf = encodeShape(shape);
      return buf.subarray(0, at % buf.length);
    }),
    /** Junk after a valid batch: random bytes, or a header-sized run of zeros or 0xff. */
    'batch-junk': fc.tuple(shapeArb(safeProducerIds), fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 80 }), fc.constantFrom(new Uint8Array(61), new Uint8Array(61).fill(255), new Uint8Array(12)))).map(([shape, junk]) =>
      Buffer.concat([encodeShape(shape), Buffer.from(junk)])),
    /** A gzip section inflating to 1, 16 or 80 MiB, or an lz4 section whose size prefix claims up to 2 GiB. */
    'batch-bomb': fc.tuple(shapeArb(safeProducerIds), fc.integer({ min: 0, max: 2 }), fc.boolean(), int32Arb).map(([shape, which, lz4, count]) => {
      const base = encodeShape({ ...shape, compression: 'none' });
      if (!lz4) return withRecordsSection(base, bombs()[which]!, 1, Math.max(1, count));
      const section = Buffer.alloc(4 + 32, 0);
      section.writeUInt32LE([1 << 20, 1 << 30, 0x7fffffff][which]!, 0);
      return withRecordsSection(base, section, 3, Math.max(1, count));
    }),
    /** Random bytes where a batch should be (usually not even a header). */
    'batch-random': fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  };
}
