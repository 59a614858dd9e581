// validateProducedBatch: every batch our encoder builds passes; every mutation of its counts, lengths or
// varints (CRC fixed up, as a hostile client would) is refused with a typed TributaryError — never another
// kind of throw — and whatever passes, consumers can decode (the broker never stores poison).
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_OFFSET,
  COMPRESSION_CODE,
  CONTROL_FLAG_MASK,
  CorruptRecordError,
  decodeRecordBatches,
  encodeRecordBatch,
  InvalidRecordError,
  LAST_OFFSET_DELTA_OFFSET,
  MessageTooLargeError,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  type RecordBatchInput,
  TributaryError,
  validateBatches,
  validateProducedBatch,
} from '../src/index.js';
import { compress } from '../src/internal.js';
import { batchInput, reframe, SEED } from './batch-arbitraries.js';

const LIMITS = { maxUncompressedBytes: 1024 * 1024 };

/** What the broker runs on a produced partition: framing + CRC + header, then every batch's records. */
function validateProduced(buf: Buffer, limits = LIMITS): void {
  for (const header of validateBatches(buf)) validateProducedBatch(buf, header, limits);
}

function outcome(buf: Buffer, limits = LIMITS): 'ok' | TributaryError {
  try {
    validateProduced(buf, limits);
    return 'ok';
  } catch (err) {
    if (err instanceof TributaryError) return err;
    throw new Error(`validation threw a ${String(err)} instead of a TributaryError`, { cause: err });
  }
}

/** Producer batches are never control batches. */
const producerBatchInput = batchInput.map((input): RecordBatchInput => ({ ...input, control: false }));

/** The plain record section of `input` and a batch holding it uncompressed. */
function plainBatch(input: RecordBatchInput): Buffer {
  return encodeRecordBatch({ ...input, compression: 'none' });
}

/** Replaces the record section (uncompressed bytes `section`) of a plain batch, compressing as `codec`. */
function withSection(plain: Buffer, section: Buffer, codec: 'none' | 'gzip' | 'lz4'): Buffer {
  const out = Buffer.concat([plain.subarray(0, RECORDS_OFFSET), compress(codec, section)]);
  out.writeInt16BE((out.readInt16BE(ATTRIBUTES_OFFSET) & ~0x07) | COMPRESSION_CODE[codec], ATTRIBUTES_OFFSET);
  return reframe(out);
}

describe('validateProducedBatch', () => {
  it('passes every batch the encoder builds, in every codec', () => {
    fc.assert(
      fc.property(producerBatchInput, (input) => {
        const buf = encodeRecordBatch(input);
        expect(outcome(buf)).toBe('ok');
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('answers a mutated record section with a typed error, or accepts it only when consumers decode it', () => {
    const mutation = fc.record({
      position: fc.nat(),
      kind: fc.constantFrom('set', 'insert', 'delete', 'truncate'),
      byte: fc.integer({ min: 0, max: 255 }),
      codec: fc.constantFrom('none' as const, 'gzip' as const, 'lz4' as const),
    });
    fc.assert(
      fc.property(producerBatchInput, mutation, (input, m) => {
        const plain = plainBatch(input);
        const section = Buffer.from(plain.subarray(RECORDS_OFFSET));
        const at = m.position % section.length;
        let mutated: Buffer;
        switch (m.kind) {
          case 'set':
            mutated = Buffer.from(section);
            mutated[at] = m.byte;
            break;
          case 'insert':
            mutated = Buffer.concat([section.subarray(0, at), Buffer.from([m.byte]), section.subarray(at)]);
            break;
          case 'delete':
            mutated = Buffer.concat([section.subarray(0, at), section.subarray(at + 1)]);
            break;
          default:
            mutated = section.subarray(0, at);
        }
        const buf = withSection(plain, mutated, m.codec);
        const result = outcome(buf);
        if (result === 'ok') {
          // Accepted bytes must be readable by every consumer, with the count the header claims.
          const [batch] = decodeRecordBatches(buf);
          expect(batch!.records).toHaveLength(batch!.recordCount);
        } else {
          expect(result).toBeInstanceOf(TributaryError);
          expect(result instanceof CorruptRecordError || result instanceof InvalidRecordError).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('refuses a header whose recordCount or lastOffsetDelta disagrees with the records (INVALID_RECORD)', () => {
    fc.assert(
      fc.property(producerBatchInput, fc.integer({ min: -5, max: 2 ** 31 - 1 }), fc.boolean(), (input, value, countField) => {
        const buf = encodeRecordBatch(input);
        const n = input.records.length;
        const field = countField ? RECORD_COUNT_OFFSET : LAST_OFFSET_DELTA_OFFSET;
        fc.pre(value !== (countField ? n : n - 1));
        buf.writeInt32BE(value, field);
        const result = outcome(reframe(buf));
        expect(result).toBeInstanceOf(TributaryError);
        // readBatchHeader already refuses some values (negative, count > delta + 1) as CORRUPT_MESSAGE.
        expect(result instanceof InvalidRecordError || result instanceof CorruptRecordError).toBe(true);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('names the finding: one real record under a header claiming 1,001', () => {
    // Big enough that 1,001 minimal records could fit in its bytes: the walk must notice they are not there.
    const buf = encodeRecordBatch({ records: [{ value: Buffer.alloc(10_000, 1), timestamp: 1 }] });
    buf.writeInt32BE(1000, LAST_OFFSET_DELTA_OFFSET);
    buf.writeInt32BE(1001, RECORD_COUNT_OFFSET);
    const result = outcome(reframe(buf));
    expect(result).toBeInstanceOf(InvalidRecordError);
    expect(String((result as Error).message)).toMatch(/recordCount is 1001 but the record section ends after 1 record/);
    // A claim no byte count could hold is refused before anything is walked or inflated.
    buf.writeInt32BE(2 ** 31 - 2, LAST_OFFSET_DELTA_OFFSET);
    buf.writeInt32BE(2 ** 31 - 1, RECORD_COUNT_OFFSET);
    expect(String((outcome(reframe(buf)) as Error).message)).toMatch(/cannot fit/);
  });

  it('refuses out-of-sequence offset deltas and control batches (INVALID_RECORD)', () => {
    const two = encodeRecordBatch({ records: [{ value: Buffer.from('a'), timestamp: 1 }, { value: Buffer.from('b'), timestamp: 1 }] });
    // Record 1's offsetDelta varint: length(1) attrs(1) tsDelta(1) then offsetDelta; record 0 is 9 bytes + length.
    const section = Buffer.from(two.subarray(RECORDS_OFFSET));
    const record0Bytes = 1 + section[0]! / 2;
    const offsetDeltaAt = record0Bytes + 3;
    expect(section[offsetDeltaAt]).toBe(2); // zigzag(1)
    section[offsetDeltaAt] = 4; // zigzag(2)
    expect(outcome(withSection(two, section, 'none'))).toBeInstanceOf(InvalidRecordError);

    const control = Buffer.from(two);
    control.writeInt16BE(control.readInt16BE(ATTRIBUTES_OFFSET) | CONTROL_FLAG_MASK, ATTRIBUTES_OFFSET);
    expect(outcome(reframe(control))).toBeInstanceOf(InvalidRecordError);
  });

  it('refuses a header key that is not UTF-8, as consumers would', () => {
    const buf = encodeRecordBatch({ records: [{ value: null, headers: [{ key: 'kk', value: null }], timestamp: 1 }] });
    const at = buf.indexOf(Buffer.from('kk'), RECORDS_OFFSET);
    buf[at] = 0xff;
    const bad = reframe(buf);
    expect(outcome(bad)).toBeInstanceOf(CorruptRecordError);
    expect(() => decodeRecordBatches(bad)).toThrow(CorruptRecordError);
  });

  it('refuses an lz4 flag on plain bytes and garbage record bytes (CORRUPT_MESSAGE)', () => {
    const plain = encodeRecordBatch({ records: [{ value: Buffer.from('plain bytes, not lz4 at all'), timestamp: 1 }] });
    const flagged = Buffer.from(plain);
    flagged.writeInt16BE(COMPRESSION_CODE.lz4, ATTRIBUTES_OFFSET);
    expect(outcome(reframe(flagged))).toBeInstanceOf(CorruptRecordError);
    expect(outcome(withSection(plain, Buffer.alloc(40, 0xff), 'none'))).toBeInstanceOf(CorruptRecordError);
    expect(outcome(withSection(plain, Buffer.alloc(40, 0xff), 'gzip'))).toBeInstanceOf(CorruptRecordError);
  });

  it('stops a gzip bomb while inflating, at maxUncompressedBytes (MESSAGE_TOO_LARGE)', () => {
    const plain = encodeRecordBatch({ records: [{ value: Buffer.from('x'), timestamp: 1 }] });
    const bomb = Buffer.concat([plain.subarray(0, RECORDS_OFFSET), gzipSync(Buffer.alloc(32 * 1024 * 1024), { level: 9 })]);
    bomb.writeInt16BE(COMPRESSION_CODE.gzip, ATTRIBUTES_OFFSET);
    const result = outcome(reframe(bomb));
    expect(result).toBeInstanceOf(MessageTooLargeError);
    // zlib gave up when its output passed the bound, not after inflating everything.
    expect((result as Error & { cause?: { code?: string } }).cause?.code).toBe('ERR_BUFFER_TOO_LARGE');
  });

  it('applies maxUncompressedBytes to every codec: a section just over it is refused, one at it passes', () => {
    for (const codec of ['gzip', 'lz4'] as const) {
      const buf = encodeRecordBatch({ compression: codec, records: [{ value: Buffer.alloc(10_000, 7), timestamp: 1 }] });
      const sectionBytes = encodeRecordBatch({ records: [{ value: Buffer.alloc(10_000, 7), timestamp: 1 }] }).length - RECORDS_OFFSET;
      expect(outcome(buf, { maxUncompressedBytes: sectionBytes })).toBe('ok');
      expect(outcome(buf, { maxUncompressedBytes: sectionBytes - 1 })).toBeInstanceOf(MessageTooLargeError);
    }
  });
});
