// batchesIn's stopAtPartialBatch: a buffer cut inside its last batch (a fetch response at its byte limit)
// ends the walk after the whole batches; anything that is not a cut still throws.
import { describe, expect, it } from 'vitest';
import {
  BATCH_LENGTH_OFFSET,
  CorruptRecordError,
  CRC_OFFSET,
  MIN_BATCH_LENGTH,
  batchesIn,
  encodeRecordBatch,
  isPartialBatchAt,
  validateBatches,
} from '../src/index.js';

const batch = (value: string): Buffer => encodeRecordBatch({ records: [{ key: null, value: Buffer.from(value), headers: [], timestamp: 1 }] });
const positions = (buf: Buffer, stop: boolean): number[] => Array.from(batchesIn(buf, { stopAtPartialBatch: stop }), (h) => h.position);

describe('batchesIn stopAtPartialBatch', () => {
  const a = batch('a');
  const b = batch('bb');
  const c = batch('ccc');
  const whole = Buffer.concat([a, b, c]);

  it('yields the whole batches and stops quietly wherever the last batch is cut; without the option the cut throws', () => {
    const lastStart = a.length + b.length;
    for (let cut = lastStart + 1; cut < whole.length; cut++) {
      const buf = whole.subarray(0, cut);
      expect(positions(buf, true)).toEqual([0, a.length]);
      expect(isPartialBatchAt(buf, lastStart)).toBe(true);
      expect(() => positions(buf, false)).toThrow(CorruptRecordError);
    }
    expect(positions(whole, true)).toEqual([0, a.length, lastStart]);
    expect(positions(whole.subarray(0, lastStart), true)).toEqual([0, a.length]);
    expect(positions(Buffer.alloc(0), true)).toEqual([]);
  });

  it('still throws for a batchLength below the minimum (corrupt, not cut) at the end', () => {
    const buf = Buffer.concat([a, Buffer.from(b)]);
    buf.writeInt32BE(MIN_BATCH_LENGTH - 1, a.length + BATCH_LENGTH_OFFSET);
    expect(isPartialBatchAt(buf, a.length)).toBe(false);
    expect(() => positions(buf, true)).toThrow(/below the minimum/);
  });

  it('still throws for a bad batch before the cut (here a CRC mismatch)', () => {
    const buf = Buffer.from(whole.subarray(0, whole.length - 1));
    buf.writeUInt32BE((buf.readUInt32BE(a.length + CRC_OFFSET) ^ 1) >>> 0, a.length + CRC_OFFSET);
    expect(() => positions(buf, true)).toThrow(/CRC mismatch/);
  });

  it('validateBatches does not take it: a produced buffer must be whole', () => {
    const cut = whole.subarray(0, whole.length - 1);
    // The option is not in ValidateBatchesOptions; even smuggled in, the walk stays strict.
    expect(() => validateBatches(cut, { stopAtPartialBatch: true } as never)).toThrow(CorruptRecordError);
  });
});
