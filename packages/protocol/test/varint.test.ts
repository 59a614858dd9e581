import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ByteCursor,
  CorruptRecordError,
  encodeVarint,
  encodeVarlong,
  InvalidArgumentError,
  readInt64Safe,
  sizeOfVarint,
  sizeOfVarlong,
  writeInt64,
} from '../src/index.js';
import { SEED } from './batch-arbitraries.js';

const cursor = (bytes: number[] | Buffer): ByteCursor => {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  return new ByteCursor(buf, 0, buf.length);
};

// Vectors as Kafka's ByteUtils writes them (zigzag + LEB128).
const VARINTS: [number, number[]][] = [
  [0, [0x00]],
  [-1, [0x01]],
  [1, [0x02]],
  [63, [0x7e]],
  [-64, [0x7f]],
  [64, [0x80, 0x01]],
  [-65, [0x81, 0x01]],
  [300, [0xd8, 0x04]],
  [2 ** 31 - 1, [0xfe, 0xff, 0xff, 0xff, 0x0f]],
  [-(2 ** 31), [0xff, 0xff, 0xff, 0xff, 0x0f]],
];

describe('varint (zigzag int32)', () => {
  it.each(VARINTS)('%d encodes as Kafka does', (value, bytes) => {
    expect([...encodeVarint(value)]).toEqual(bytes);
    expect(sizeOfVarint(value)).toBe(bytes.length);
    const cur = cursor(bytes);
    expect(cur.readVarint('v')).toBe(value);
    expect(cur.pos).toBe(bytes.length);
  });

  it('round-trips every int32', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (value) => {
        const bytes = encodeVarint(value);
        expect(bytes.length).toBe(sizeOfVarint(value));
        expect(cursor(bytes).readVarint('v')).toBe(value);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('rejects non-int32 input, overflowing and truncated encodings', () => {
    expect(() => encodeVarint(2 ** 31)).toThrow(InvalidArgumentError);
    expect(() => encodeVarint(0.5)).toThrow(InvalidArgumentError);
    expect(() => cursor([0xff, 0xff, 0xff, 0xff, 0x1f]).readVarint('v')).toThrow(CorruptRecordError);
    expect(() => cursor([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).readVarint('v')).toThrow(CorruptRecordError);
    expect(() => cursor([0x80]).readVarint('v')).toThrow(CorruptRecordError);
    expect(() => cursor([]).readVarint('v')).toThrow(CorruptRecordError);
    // The cursor's end bounds the read even when the buffer goes on.
    expect(() => new ByteCursor(Buffer.from([0x80, 0x01]), 0, 1).readVarint('v')).toThrow(CorruptRecordError);
  });
});

describe('varlong (zigzag int64)', () => {
  it('round-trips every safe integer through the number API', () => {
    const safe = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), fc.maxSafeInteger(), fc.maxSafeNat(), fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 28, -(2 ** 28), 2 ** 28 - 1, -(2 ** 28) - 1));
    fc.assert(
      fc.property(safe, (value) => {
        const bytes = encodeVarlong(value);
        expect(bytes.length).toBe(sizeOfVarlong(value));
        expect(bytes).toEqual(encodeVarlong(BigInt(value)));
        const cur = cursor(bytes);
        expect(cur.readVarlong('v')).toBe(value);
        expect(cur.pos).toBe(bytes.length);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('round-trips every int64 through the BigInt API', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (value) => {
        const bytes = encodeVarlong(value);
        expect(bytes.length).toBeLessThanOrEqual(10);
        expect(cursor(bytes).readVarlongBigInt('v')).toBe(value);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('encodes the int64 extremes in 10 bytes like Kafka', () => {
    expect([...encodeVarlong(2n ** 63n - 1n)]).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect([...encodeVarlong(-(2n ** 63n))]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it('refuses values the number API cannot hold exactly', () => {
    expect(() => encodeVarlong(2 ** 53)).toThrow(InvalidArgumentError);
    expect(() => encodeVarlong(2n ** 63n)).toThrow(InvalidArgumentError);
    expect(() => cursor(encodeVarlong(2n ** 53n)).readVarlong('v')).toThrow(CorruptRecordError);
    expect(() => cursor(encodeVarlong(-(2n ** 53n))).readVarlong('v')).toThrow(CorruptRecordError);
    expect(() => cursor([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).readVarlongBigInt('v')).toThrow(CorruptRecordError);
    expect(() => cursor([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).readVarlong('v')).toThrow(CorruptRecordError);
  });
});

describe('fixed int64 as number', () => {
  it('round-trips safe integers and refuses unsafe ones', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (value) => {
        const buf = Buffer.alloc(8);
        writeInt64(buf, 0, value);
        expect(buf.readBigInt64BE(0)).toBe(BigInt(value));
        expect(readInt64Safe(buf, 0)).toBe(value);
      }),
      { seed: SEED, numRuns: 2000 },
    );
    const buf = Buffer.alloc(8);
    for (const unsafe of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]) {
      buf.writeBigInt64BE(unsafe, 0);
      expect(readInt64Safe(buf, 0)).toBeUndefined();
    }
  });
});
