// fast-check arbitraries and helpers shared by the record batch tests.
import fc from 'fast-check';
import {
  BATCH_LENGTH_OFFSET,
  type Compression,
  COMPRESSIONS,
  computeBatchCrc,
  CRC_OFFSET,
  type RecordBatch,
  type RecordBatchInput,
  type RecordInput,
  LOG_OVERHEAD_BYTES,
} from '../src/index.js';

/** Seed for every property: failures replay exactly. Override with FC_SEED to explore. */
export const SEED = Number(process.env['FC_SEED'] ?? 20240601);

const bytes = (maxLength: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength });

/** Timestamps spanning negative and > 2^28 deltas (the varlong slow path) while deltas stay safe. */
const timestampArb = fc.integer({ min: -(2 ** 50), max: 2 ** 50 });

export const recordArb: fc.Arbitrary<RecordInput> = fc.record(
  {
    key: fc.oneof(fc.constant(undefined), fc.constant(null), bytes(64)),
    value: fc.oneof(fc.constant(null), fc.constant(new Uint8Array(0)), bytes(300)),
    headers: fc.array(
      fc.record({
        key: fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('', '\uFEFFbom', 'trace-id', '日本語')),
        value: fc.oneof(fc.constant(null), bytes(40)),
      }),
      { maxLength: 4 },
    ),
    timestamp: fc.oneof(fc.constant(undefined), timestampArb, fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 })),
  },
  { requiredKeys: ['value'] },
);

export const compressionArb: fc.Arbitrary<Compression> = fc.constantFrom(...COMPRESSIONS);

export function batchInputArb(records: fc.Arbitrary<RecordInput[]>): fc.Arbitrary<RecordBatchInput> {
  return fc
    .record(
      {
        records,
        baseOffset: fc.integer({ min: 0, max: 2 ** 50 }),
        partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        compression: compressionArb,
        timestampType: fc.constantFrom('create' as const, 'log-append' as const),
        baseTimestamp: timestampArb,
        producerId: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2 ** 50 })),
        producerEpoch: fc.integer({ min: -1, max: 2 ** 15 - 1 }),
        baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        transactional: fc.boolean(),
        control: fc.boolean(),
      },
      { requiredKeys: ['records'] },
    )
    .map((input) => {
      // The encoder needs a base timestamp from somewhere: the option or the first record.
      if (input.baseTimestamp === undefined && input.records[0]?.timestamp === undefined) {
        return { ...input, baseTimestamp: 1_700_000_000_000 };
      }
      return input;
    });
}

export const batchInput = batchInputArb(fc.array(recordArb, { minLength: 1, maxLength: 20 }));

/** What decoding `input`'s encoding must give, in the plain form of `plainBatch`. */
export function expectedBatch(input: RecordBatchInput): unknown {
  const baseTimestamp = input.baseTimestamp ?? input.records[0]!.timestamp!;
  const timestamps = input.records.map((r) => r.timestamp ?? baseTimestamp);
  const maxTimestamp = Math.max(...timestamps);
  const logAppend = input.timestampType === 'log-append';
  const baseOffset = input.baseOffset ?? 0;
  return {
    baseOffset,
    lastOffset: baseOffset + input.records.length - 1,
    lastOffsetDelta: input.records.length - 1,
    partitionLeaderEpoch: input.partitionLeaderEpoch ?? -1,
    compression: input.compression ?? 'none',
    timestampType: input.timestampType ?? 'create',
    transactional: input.transactional ?? false,
    control: input.control ?? false,
    baseTimestamp,
    maxTimestamp,
    producerId: input.producerId ?? -1,
    producerEpoch: input.producerEpoch ?? -1,
    baseSequence: input.baseSequence ?? -1,
    recordCount: input.records.length,
    records: input.records.map((r, i) => ({
      offset: baseOffset + i,
      timestamp: logAppend ? maxTimestamp : timestamps[i],
      key: hex(r.key ?? null),
      value: hex(r.value),
      headers: (r.headers ?? []).map((h) => ({ key: h.key, value: hex(h.value) })),
    })),
  };
}

function hex(b: Uint8Array | null): string | null {
  return b === null ? null : Buffer.from(b).toString('hex');
}

/** A decoded batch as plain comparable data (bytes as hex, no position/crc/size bookkeeping). */
export function plainBatch(batch: RecordBatch): unknown {
  return {
    baseOffset: batch.baseOffset,
    lastOffset: batch.lastOffset,
    lastOffsetDelta: batch.lastOffsetDelta,
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    compression: batch.compression,
    timestampType: batch.timestampType,
    transactional: batch.transactional,
    control: batch.control,
    baseTimestamp: batch.baseTimestamp,
    maxTimestamp: batch.maxTimestamp,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
    recordCount: batch.recordCount,
    records: batch.records.map((r) => ({
      offset: r.offset,
      timestamp: r.timestamp,
      key: hex(r.key),
      value: hex(r.value),
      headers: r.headers.map((h) => ({ key: h.key, value: hex(h.value) })),
    })),
  };
}

/** Re-frames a batch occupying all of `buf` after an edit: fixes batchLength and the CRC, in place. */
export function reframe(buf: Buffer): Buffer {
  buf.writeInt32BE(buf.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  buf.writeUInt32BE(computeBatchCrc(buf, 0, buf.length), CRC_OFFSET);
  return buf;
}
