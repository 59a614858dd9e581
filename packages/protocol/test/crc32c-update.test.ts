// updateCrc32c (record-format crc32c-update.ts) and the LogAppendTime switch built on it: the CRC of a
// batch whose header changed is derived from the stored CRC, never from the records, and equals the full
// recomputation when the stored CRC was right; when it was wrong, it stays wrong (no re-blessing).
import { crc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { updateCrc32c } from '@tributary/record-format';
import { computeBatchCrc, CorruptRecordError, encodeRecordBatch, setLogAppendTime, validateBatches, verifyBatchCrc } from '../src/index.js';
import { batchInput, SEED } from './batch-arbitraries.js';

describe('updateCrc32c', () => {
  it('equals the CRC32C of the changed bytes, for any range and any change in its first bytes', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 5000 }), fc.uint8Array({ minLength: 1, maxLength: 40 }),
      (range, replacement) => {
        const k = Math.min(range.length, replacement.length);
        const old = Buffer.from(range);
        const changed = Buffer.from(old);
        Buffer.from(replacement).copy(changed, 0, 0, k);
        expect(updateCrc32c(crc32c(old) >>> 0, old.subarray(0, k), changed.subarray(0, k), old.length)).toBe(crc32c(changed) >>> 0);
      },
    ), { seed: SEED, numRuns: 300 });
  });

  it('keeps a wrong CRC wrong: the update of a CRC that did not match the old bytes does not match the new ones', () => {
    const old = Buffer.alloc(1000, 3);
    const changed = Buffer.from(old);
    changed[0] = 9;
    const wrong = (crc32c(old) ^ 1) >>> 0;
    expect(updateCrc32c(wrong, old.subarray(0, 1), changed.subarray(0, 1), old.length)).not.toBe(crc32c(changed) >>> 0);
  });

  it('handles large ranges (a 64 MiB batch) in O(log n)', () => {
    const n = 64 * 1024 * 1024;
    const big = Buffer.alloc(n);
    const changed = Buffer.from([1, 2, 3]);
    const expected = crc32c(Buffer.concat([changed, big.subarray(3)])) >>> 0;
    expect(updateCrc32c(crc32c(big) >>> 0, big.subarray(0, 3), changed, n)).toBe(expected);
  });
});

describe("setLogAppendTime({ crc: 'verified-at-edge' })", () => {
  it('writes the CRC a full recomputation gives, and the same bytes as the verifying mode', () => {
    fc.assert(fc.property(batchInput, fc.integer({ min: 0, max: 2 ** 45 }), (input, appendTimeMs) => {
      const verified = encodeRecordBatch(input);
      const trusted = Buffer.from(verified);
      setLogAppendTime(verified, 0, appendTimeMs);
      setLogAppendTime(trusted, 0, appendTimeMs, { crc: 'verified-at-edge' });
      expect(trusted.equals(verified)).toBe(true);
      expect(trusted.readUInt32BE(17)).toBe(computeBatchCrc(trusted, 0, trusted.length));
      expect(validateBatches(trusted)[0]!.timestampType).toBe('log-append');
    }), { seed: SEED, numRuns: 100 });
  });

  it('never re-blesses a batch damaged after the edge: it is written, still failing its CRC, and readers refuse it', () => {
    const buf = encodeRecordBatch({ records: [{ value: Buffer.from('payload'), timestamp: 1 }] });
    buf[buf.length - 3]! ^= 0x10;
    setLogAppendTime(buf, 0, 99, { crc: 'verified-at-edge' });
    expect(() => verifyBatchCrc(buf, 0, buf.length)).toThrow(CorruptRecordError);
    expect(() => validateBatches(buf)).toThrow(CorruptRecordError);
  });
});
