import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CorruptRecordError, decodeRecordBatch, encodeControlBatch, encodeRecordBatch, readControlRecord, readControlRecordType, validateBatches } from '@tributary/protocol';

describe('control batches (transaction markers)', () => {
  it("has Kafka's layout: transactional + control, one record, key version 0 + type, value version 0 + coordinator epoch, base sequence -1", () => {
    const bytes = encodeControlBatch({ type: 'COMMIT', producerId: 42, producerEpoch: 3, coordinatorEpoch: 7, timestampMs: 1000 });
    const batch = decodeRecordBatch(bytes, 0);
    expect(batch.control).toBe(true);
    expect(batch.transactional).toBe(true);
    expect(batch.producerId).toBe(42);
    expect(batch.producerEpoch).toBe(3);
    expect(batch.baseSequence).toBe(-1);
    expect(batch.compression).toBe('none');
    expect(batch.records).toHaveLength(1);
    expect([...batch.records[0]!.key!]).toEqual([0, 0, 0, 1]);
    expect([...batch.records[0]!.value!]).toEqual([0, 0, 0, 0, 0, 7]);
    expect(validateBatches(bytes)).toHaveLength(1);
  });

  it('round-trips type and coordinator epoch', () => {
    fc.assert(fc.property(fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 32767 }), (commit, coordinatorEpoch, producerEpoch) => {
      const type = commit ? 'COMMIT' : 'ABORT';
      const bytes = encodeControlBatch({ type, producerId: 1, producerEpoch, coordinatorEpoch, timestampMs: 5 });
      expect(readControlRecord(bytes)).toEqual({ type, coordinatorEpoch });
      expect(readControlRecordType(bytes)).toBe(type);
    }));
  });

  it('refuses a data batch and reads an unknown control type as undefined', () => {
    const data = encodeRecordBatch({ records: [{ value: Buffer.from('x') }], baseTimestamp: 1 });
    expect(() => readControlRecordType(data)).toThrow(CorruptRecordError);
    const unknown = encodeRecordBatch({ records: [{ key: Buffer.from([0, 0, 0, 9]), value: Buffer.from([0, 0, 0, 0, 0, 1]) }], baseTimestamp: 1, control: true, transactional: true });
    expect(readControlRecordType(unknown)).toBeUndefined();
    const shortKey = encodeRecordBatch({ records: [{ key: Buffer.from([0]), value: null }], baseTimestamp: 1, control: true });
    expect(() => readControlRecordType(shortKey)).toThrow(CorruptRecordError);
  });
});
