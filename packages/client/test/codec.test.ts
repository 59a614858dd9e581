// decodeFetchedBatches: a fetch response cut inside its last batch yields the whole batches before it and
// no error; a batch that does not decode ends the list with the error.
import { describe, expect, it } from 'vitest';
import { BATCH_LENGTH_OFFSET, CRC_OFFSET, encodeRecordBatch } from '@tributary/protocol';
import { decodeFetchedBatches } from '../src/codec.js';

const batch = (value: string): Buffer => encodeRecordBatch({ records: [{ key: null, value: Buffer.from(value), headers: [], timestamp: 1 }] });
const values = (r: ReturnType<typeof decodeFetchedBatches>): string[] => r.batches.flatMap((b) => b.records.map((x) => x.value!.toString()));

describe('decodeFetchedBatches', () => {
  const whole = Buffer.concat([batch('a'), batch('bb'), batch('ccc')]);
  const lastStart = whole.length - batch('ccc').length;

  it('ignores a partial trailing batch wherever the response is cut', () => {
    expect(values(decodeFetchedBatches(whole))).toEqual(['a', 'bb', 'ccc']);
    for (let cut = lastStart; cut < whole.length; cut++) {
      const r = decodeFetchedBatches(whole.subarray(0, cut));
      expect(r.error).toBeUndefined();
      expect(values(r)).toEqual(['a', 'bb']);
    }
    expect(decodeFetchedBatches(new Uint8Array(0))).toEqual({ batches: [], error: undefined });
  });

  it('returns the batches before a corrupt one together with the error', () => {
    const crc = Buffer.from(whole);
    crc.writeUInt32BE((crc.readUInt32BE(batch('a').length + CRC_OFFSET) ^ 1) >>> 0, batch('a').length + CRC_OFFSET);
    const r1 = decodeFetchedBatches(crc);
    expect(values(r1)).toEqual(['a']);
    expect(r1.error).toMatchObject({ errorName: 'CORRUPT_MESSAGE' });
    const short = Buffer.from(whole);
    short.writeInt32BE(3, lastStart + BATCH_LENGTH_OFFSET); // below the minimum: corrupt, not a cut
    const r2 = decodeFetchedBatches(short);
    expect(values(r2)).toEqual(['a', 'bb']);
    expect(r2.error).toMatchObject({ errorName: 'CORRUPT_MESSAGE' });
  });
});
