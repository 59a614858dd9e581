// Any flipped, truncated or garbage byte must end in a typed error — never a crash (RangeError, TypeError,
// AssertionError) and never a wrong record. The only bytes a flip may change without an error are the two
// fields deliberately outside the CRC: baseOffset and partitionLeaderEpoch.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BATCH_LENGTH_OFFSET,
  type Compression,
  COMPRESSIONS,
  CorruptRecordError,
  decodeRecordBatches,
  encodeRecordBatch,
  PARTITION_LEADER_EPOCH_OFFSET,
  type RecordBatch,
  type RecordBatchInput,
  UnsupportedCompressionError,
  validateBatches,
} from '../src/index.js';
import { batchInput, plainBatch, reframe, SEED } from './batch-arbitraries.js';

type Outcome = { ok: true; batches: RecordBatch[] } | { ok: false; error: unknown };

function decode(buf: Buffer): Outcome {
  try {
    return { ok: true, batches: decodeRecordBatches(buf) };
  } catch (error) {
    return { ok: false, error };
  }
}

function expectCorrupt(outcome: Outcome, context: string): void {
  if (outcome.ok) throw new Error(`${context}: decoded ${outcome.batches.length} batch(es) instead of failing`);
  if (!(outcome.error instanceof CorruptRecordError)) {
    throw new Error(`${context}: threw ${String(outcome.error)} instead of CorruptRecordError`, { cause: outcome.error });
  }
}

function smallInput(compression: Compression): RecordBatchInput {
  return {
    compression,
    baseOffset: 1000,
    partitionLeaderEpoch: 4,
    producerId: 77,
    producerEpoch: 2,
    baseSequence: 10,
    records: [
      { key: Buffer.from('key-1'), value: Buffer.from('value one'), headers: [{ key: 'h', value: Buffer.from([1, 2]) }], timestamp: 1_700_000_000_000 },
      { key: null, value: null, timestamp: 1_700_000_000_500 },
      { value: Buffer.alloc(0), headers: [{ key: 'empty', value: null }], timestamp: 1_699_999_999_000 },
    ],
  };
}

/** Everything except the two fields outside the CRC (and what follows from baseOffset). */
function withoutUnprotected(batch: RecordBatch): unknown {
  const plain = plainBatch(batch) as { records: { offset: number }[] } & Record<string, unknown>;
  const { baseOffset, lastOffset: _l, partitionLeaderEpoch: _p, records, ...rest } = plain;
  return { ...rest, records: records.map((r) => ({ ...r, offset: r.offset - (baseOffset as number) })) };
}

/** Flips `mask` into byte `pos` of a copy of `original` and checks the decode outcome. */
function checkFlip(original: Buffer, pos: number, mask: number): void {
  const expected = withoutUnprotected(decodeRecordBatches(original)[0]!);
  const flipped = Buffer.from(original);
  flipped[pos]! ^= mask;
  const outcome = decode(flipped);
  const context = `byte ${pos} ^ 0x${mask.toString(16)}`;
  const unprotected =
    (pos >= BASE_OFFSET_OFFSET && pos < BASE_OFFSET_OFFSET + 8) || (pos >= PARTITION_LEADER_EPOCH_OFFSET && pos < PARTITION_LEADER_EPOCH_OFFSET + 4);
  if (unprotected && outcome.ok) {
    expect(outcome.batches).toHaveLength(1);
    expect(withoutUnprotected(outcome.batches[0]!), context).toEqual(expected);
  } else {
    expectCorrupt(outcome, context);
  }
  // The broker's hot path must agree on everything it can see: framing, magic, CRC.
  if (!unprotected) {
    try {
      validateBatches(flipped);
    } catch (error) {
      if (!(error instanceof CorruptRecordError)) throw error;
      return;
    }
    throw new Error(`${context}: validateBatches accepted a corrupt batch`);
  }
}

describe('single flipped byte', () => {
  it.each(COMPRESSIONS)('every bit of every byte of a small %s batch', (compression) => {
    const original = encodeRecordBatch(smallInput(compression));
    for (let pos = 0; pos < original.length; pos++) {
      for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff]) checkFlip(original, pos, mask);
    }
  });

  it('sampled bytes of large batches of every compression', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...COMPRESSIONS),
        fc.array(fc.nat(), { minLength: 40, maxLength: 40 }),
        fc.integer({ min: 1, max: 255 }),
        (compression, positions, mask) => {
          const records = Array.from({ length: 500 }, (_, i) => ({
            key: Buffer.from(`key-${i}`),
            value: Buffer.from(`value ${i} `.repeat(i % 20)),
            headers: i % 3 === 0 ? [{ key: `h${i}`, value: Buffer.from([i & 0xff]) }] : [],
            timestamp: 1_700_000_000_000 + i,
          }));
          const original = encodeRecordBatch({ compression, records });
          for (const p of positions) checkFlip(original, p % original.length, mask);
        },
      ),
      { seed: SEED, numRuns: 15 },
    );
  });
});

describe('truncation', () => {
  it.each(COMPRESSIONS)('every proper prefix of a %s batch, and of two concatenated batches', (compression) => {
    const first = encodeRecordBatch(smallInput(compression));
    const both = Buffer.concat([first, encodeRecordBatch({ ...smallInput(compression), baseOffset: 1003 })]);
    for (let length = 1; length < both.length; length++) {
      if (length === first.length) continue; // a whole first batch is a valid buffer
      const prefix = both.subarray(0, length);
      expectCorrupt(decode(prefix), `prefix of ${length} bytes`);
      expect(() => validateBatches(prefix), `validateBatches of ${length} bytes`).toThrow(CorruptRecordError);
    }
  });
});

describe('garbage', () => {
  it('random bytes are corrupt (or no batch at all for an empty buffer)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const buf = Buffer.from(bytes);
        if (buf.length === 0) {
          expect(decodeRecordBatches(buf)).toEqual([]);
          return;
        }
        expectCorrupt(decode(buf), 'random bytes');
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('random bytes framed as a batch (magic, length, valid CRC) are corrupt', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 61, maxLength: 400 }), (bytes) => {
        const buf = Buffer.from(bytes);
        buf.writeInt8(2, 16);
        expectTypedOrWellFormed(reframe(buf));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  // The CRC catches almost every random corruption, so also feed the record parser garbage that passes
  // it: mutate valid batches after the CRC field and recompute batchLength and the CRC.
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x0f) }),
    fc.record({ kind: fc.constant('random' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), byte: fc.constant(0) }),
  );

  it('mutated batches re-framed with a valid CRC decode to a typed error or a well-formed batch', () => {
    fc.assert(
      fc.property(batchInput, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean(), (input, mutations, recordsOnly, keepCompression) => {
        // Half the runs keep the header intact and half the runs are uncompressed, so that many mutations
        // reach the record parser rather than the decompressor.
        const from = recordsOnly ? 61 : ATTRIBUTES_OFFSET;
        let buf = encodeRecordBatch({ ...input, compression: keepCompression ? input.compression : 'none' });
        for (const m of mutations) {
          const span = buf.length - from;
          if (span <= 0) break;
          const at = from + (m.at % span);
          if (m.kind === 'set' || m.kind === 'random') buf[at] = m.byte;
          else if (m.kind === 'insert') buf = Buffer.concat([buf.subarray(0, at), Buffer.from([m.byte]), buf.subarray(at)]);
          else buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)]);
        }
        expectTypedOrWellFormed(reframe(Buffer.from(buf)));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});

/** Garbage that passes the CRC must give CorruptRecordError / UnsupportedCompressionError or a sane batch. */
function expectTypedOrWellFormed(buf: Buffer): void {
  const outcome = decode(buf);
  if (!outcome.ok) {
    if (outcome.error instanceof CorruptRecordError || outcome.error instanceof UnsupportedCompressionError) return;
    throw new Error(`threw ${String(outcome.error)} instead of a typed error`, { cause: outcome.error });
  }
  expect(outcome.batches).toHaveLength(1);
  const batch = outcome.batches[0]!;
  expect(buf.readInt32BE(BATCH_LENGTH_OFFSET) + 12).toBe(batch.sizeBytes);
  expect(batch.records).toHaveLength(batch.recordCount);
  let previous = batch.baseOffset - 1;
  for (const record of batch.records) {
    expect(record.offset).toBeGreaterThan(previous);
    expect(record.offset).toBeLessThanOrEqual(batch.lastOffset);
    expect(Number.isSafeInteger(record.timestamp)).toBe(true);
    expect(record.key === null || Buffer.isBuffer(record.key)).toBe(true);
    expect(record.value === null || Buffer.isBuffer(record.value)).toBe(true);
    for (const header of record.headers) expect(typeof header.key).toBe('string');
    previous = record.offset;
  }
  // A batch that decodes must also pass the broker's validation.
  expect(validateBatches(buf)).toHaveLength(1);
}
