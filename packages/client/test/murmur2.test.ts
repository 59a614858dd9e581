import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur2, murmur2Partition, toPositive } from '../src/murmur2.js';

// Vectors from Apache Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
// (testMurmur2): the Java client's Utils.murmur2 of these bytes.
const KAFKA_VECTORS: readonly [string | number[], number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  [[0x61, 0x62, 0x63], 479470107], // new byte[] {'a', 'b', 'c'}
];

describe('murmur2 (Kafka Utils.murmur2)', () => {
  it.each(KAFKA_VECTORS)('murmur2(%j) = %i', (input, expected) => {
    const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Uint8Array.from(input);
    expect(murmur2(bytes)).toBe(expected);
  });

  // Kafka's vectors have tails of 0, 2 and 3 bytes; a literal BigInt transcription of the Java code
  // (int arithmetic as mod 2^32) covers the rest, written independently of the Math.imul version.
  it('matches a literal transcription of the Java code for every length', () => {
    const javaMurmur2 = (data: Uint8Array): number => {
      const int = (x: bigint): bigint => BigInt.asIntN(32, x);
      const ushr = (x: bigint, n: bigint): bigint => BigInt.asUintN(32, x) >> n;
      const m = int(0x5bd1e995n);
      let h = int(int(0x9747b28cn) ^ BigInt(data.length));
      const length4 = Math.floor(data.length / 4);
      for (let i = 0; i < length4; i++) {
        const i4 = i * 4;
        let k = int(BigInt(data[i4]!) + (BigInt(data[i4 + 1]!) << 8n) + (BigInt(data[i4 + 2]!) << 16n) + (BigInt(data[i4 + 3]!) << 24n));
        k = int(k * m);
        k = int(k ^ ushr(k, 24n));
        k = int(k * m);
        h = int(h * m);
        h = int(h ^ k);
      }
      const tail = data.length & ~3;
      const rest = data.length % 4;
      if (rest >= 3) h = int(h ^ (BigInt(data[tail + 2]!) << 16n));
      if (rest >= 2) h = int(h ^ (BigInt(data[tail + 1]!) << 8n));
      if (rest >= 1) {
        h = int(h ^ BigInt(data[tail]!));
        h = int(h * m);
      }
      h = int(h ^ ushr(h, 13n));
      h = int(h * m);
      h = int(h ^ ushr(h, 15n));
      return Number(h);
    };
    for (const [input, expected] of KAFKA_VECTORS) {
      expect(javaMurmur2(typeof input === 'string' ? Buffer.from(input) : Uint8Array.from(input))).toBe(expected);
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      expect(murmur2(bytes)).toBe(javaMurmur2(bytes));
    }), { numRuns: 500 });
  });

  it('is a signed 32-bit integer for any input', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const h = murmur2(bytes);
      expect(Number.isInteger(h) && h >= -(2 ** 31) && h < 2 ** 31).toBe(true);
    }));
  });

  it('toPositive clears the sign bit like Kafka (MIN_VALUE -> 0, not abs)', () => {
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-1)).toBe(2147483647);
    expect(toPositive(-973932308)).toBe(-973932308 & 0x7fffffff);
    expect(toPositive(5)).toBe(5);
  });

  it('murmur2Partition = toPositive(murmur2(key)) % n, always in range', () => {
    expect(murmur2Partition(Buffer.from('21'), 3)).toBe((-973932308 & 0x7fffffff) % 3);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: 1, max: 1000 }), (key, n) => {
      const p = murmur2Partition(key, n);
      expect(p >= 0 && p < n).toBe(true);
    }));
  });
});
