// Producer state of one partition with transactions, pure (replication/producer-state.ts,
// producer-admission.ts, producer-state-snapshot.ts): a transactional batch opens its producer's
// transaction, a marker ends it and advances the epoch, the last stable offset is the earliest open
// transaction's first offset (or the high watermark), producers with an open transaction never expire
// or get evicted, the snapshot keeps open transactions and still loads version 1.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32c } from '@node-rs/crc32';
import {
  checkMarker, checkSequence, expireProducers, firstUnstableOffset, lastStableOffset, recordBatch,
  type AppendedBatch, type CompletedTxn, type ProducerEntry,
} from '../src/replication/producer-state.js';
import { checkProducerAdmission, TRANSACTIONAL_PRODUCER_EPOCH_MAX } from '../src/replication/producer-admission.js';
import { decodeProducerSnapshot, encodeProducerSnapshot } from '../src/replication/producer-state-snapshot.js';

const data = (producerId: number, baseOffset: number, opts: Partial<AppendedBatch> = {}): AppendedBatch => ({
  producerId, producerEpoch: 0, baseSequence: 0, lastOffsetDelta: 0, baseOffset, transactional: true, ...opts,
});
const marker = (producerId: number, baseOffset: number, committed: boolean, producerEpoch: number, coordinatorEpoch = 0): AppendedBatch => ({
  producerId, producerEpoch, baseSequence: -1, lastOffsetDelta: 0, baseOffset, transactional: true, marker: { committed, coordinatorEpoch },
});

describe('producer state: transactions', () => {
  it('a transactional batch opens the transaction at its base offset; later ones keep it; a marker ends it', () => {
    const table = new Map<number, ProducerEntry>();
    expect(recordBatch(table, data(7, 10, { lastOffsetDelta: 2 }))).toBeUndefined();
    expect(recordBatch(table, data(7, 13, { baseSequence: 3 }))).toBeUndefined();
    expect(table.get(7)?.currentTxnFirstOffset).toBe(10);
    expect(firstUnstableOffset(table)).toBe(10);
    expect(recordBatch(table, marker(7, 14, false, 1, 3))).toEqual({ producerId: 7, firstOffset: 10, lastOffset: 14, committed: false });
    expect(table.get(7)).toMatchObject({ producerEpoch: 1, coordinatorEpoch: 3, currentTxnFirstOffset: -1, batches: [] });
    expect(firstUnstableOffset(table)).toBeUndefined();
  });

  it('the epoch a marker brings restarts sequences at 0, and fences the old epoch', () => {
    const table = new Map<number, ProducerEntry>();
    recordBatch(table, data(7, 0, { baseSequence: 0, lastOffsetDelta: 4 }));
    recordBatch(table, marker(7, 5, true, 1));
    expect(checkSequence(table, { producerId: 7, producerEpoch: 0, baseSequence: 5, lastOffsetDelta: 0 })).toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
    expect(checkSequence(table, { producerId: 7, producerEpoch: 1, baseSequence: 5, lastOffsetDelta: 0 })).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(checkSequence(table, { producerId: 7, producerEpoch: 1, baseSequence: 0, lastOffsetDelta: 0 })).toEqual({ kind: 'append' });
  });

  it('a marker for a producer with no open transaction is recorded and ends nothing (Kafka writes it anyway)', () => {
    const table = new Map<number, ProducerEntry>();
    expect(recordBatch(table, marker(9, 0, true, 2, 4))).toBeUndefined();
    expect(table.get(9)).toMatchObject({ producerEpoch: 2, coordinatorEpoch: 4, currentTxnFirstOffset: -1 });
  });

  it('a coordinator-written batch (sequence -1) opens a transaction without entering the sequence window', () => {
    const table = new Map<number, ProducerEntry>();
    recordBatch(table, data(3, 20, { baseSequence: -1, producerEpoch: 5 }));
    expect(table.get(3)).toMatchObject({ producerEpoch: 5, batches: [], currentTxnFirstOffset: 20 });
  });

  it('checkMarker fences an older coordinator and an older producer epoch; an unknown producer gets its marker', () => {
    const table = new Map<number, ProducerEntry>();
    recordBatch(table, marker(7, 0, true, 3, 5));
    expect(checkMarker(table.get(7), { producerId: 7, producerEpoch: 3, coordinatorEpoch: 4 })).toMatchObject({ code: 'TRANSACTION_COORDINATOR_FENCED' });
    expect(checkMarker(table.get(7), { producerId: 7, producerEpoch: 2, coordinatorEpoch: 5 })).toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
    expect(checkMarker(table.get(7), { producerId: 7, producerEpoch: 3, coordinatorEpoch: 5 })).toBeNull();
    expect(checkMarker(table.get(7), { producerId: 7, producerEpoch: 4, coordinatorEpoch: 6 })).toBeNull();
    expect(checkMarker(undefined, { producerId: 8, producerEpoch: 0, coordinatorEpoch: 0 })).toBeNull();
  });

  it('the last stable offset is min(first open transaction, high watermark)', () => {
    expect(lastStableOffset({ highWatermark: 10, firstUnstableOffset: undefined })).toBe(10);
    expect(lastStableOffset({ highWatermark: 10, firstUnstableOffset: 4 })).toBe(4);
    expect(lastStableOffset({ highWatermark: 10, firstUnstableOffset: 12 })).toBe(10);
  });

  it('expiry (producer.id.expiration.ms) never drops a producer with an open transaction, and goes on past it', () => {
    const table = new Map<number, ProducerEntry>();
    recordBatch(table, data(1, 0), { producersMax: 100, nowMs: 0 }); // open transaction, oldest
    recordBatch(table, data(2, 1, { transactional: false }), { producersMax: 100, nowMs: 0 });
    recordBatch(table, data(3, 2, { transactional: false }), { producersMax: 100, nowMs: 1000 });
    expect(expireProducers(table, { nowMs: 1000, expirationMs: 500 })).toBe(1);
    expect([...table.keys()]).toEqual([1, 3]);
    expect(expireProducers(table, { nowMs: 1_000_000, expirationMs: 500 })).toBe(1);
    expect([...table.keys()]).toEqual([1]);
  });

  it('eviction past producer.ids.per.partition.max skips producers with an open transaction', () => {
    const table = new Map<number, ProducerEntry>();
    const limits = { producersMax: 2, nowMs: 0 };
    recordBatch(table, data(1, 0), limits);
    recordBatch(table, data(2, 1, { transactional: false }), limits);
    recordBatch(table, data(3, 2, { transactional: false }), limits);
    expect([...table.keys()]).toEqual([1, 3]);
    recordBatch(table, data(4, 3), limits);
    recordBatch(table, data(5, 4), limits); // every one open: the table goes over its bound rather than lose one
    expect([...table.keys()]).toEqual([1, 4, 5]);
  });

  it('matches a model of open transactions over random interleavings of batches and markers', () => {
    const op = fc.record({ producer: fc.integer({ min: 0, max: 3 }), kind: fc.constantFrom('txn', 'plain', 'commit', 'abort'), records: fc.integer({ min: 1, max: 3 }) });
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const table = new Map<number, ProducerEntry>();
      const open = new Map<number, number>();
      const epochs = new Map<number, number>();
      let offset = 0;
      for (const o of ops) {
        const epoch = epochs.get(o.producer) ?? 0;
        let completed: CompletedTxn | undefined;
        if (o.kind === 'commit' || o.kind === 'abort') {
          completed = recordBatch(table, marker(o.producer, offset, o.kind === 'commit', epoch + 1));
          const first = open.get(o.producer);
          expect(completed).toEqual(first === undefined ? undefined : { producerId: o.producer, firstOffset: first, lastOffset: offset, committed: o.kind === 'commit' });
          open.delete(o.producer);
          epochs.set(o.producer, epoch + 1);
          offset += 1;
        } else {
          if (o.kind === 'plain' && open.has(o.producer)) continue; // the leader refuses it (INVALID_TXN_STATE)
          const entry = table.get(o.producer);
          const lastSeq = entry?.producerEpoch === epoch ? entry.batches[entry.batches.length - 1]?.lastSequence ?? -1 : -1;
          recordBatch(table, data(o.producer, offset, { producerEpoch: epoch, baseSequence: lastSeq + 1, lastOffsetDelta: o.records - 1, transactional: o.kind === 'txn' }));
          if (o.kind === 'txn' && !open.has(o.producer)) open.set(o.producer, offset);
          offset += o.records;
        }
        const min = open.size === 0 ? undefined : Math.min(...open.values());
        expect(firstUnstableOffset(table)).toBe(min);
      }
    }));
  });
});

describe('producer admission: transactional epochs and coordinator-written batches', () => {
  const ctx = { allocatedEnd: 100, known: true };
  it('transactional producers may use epochs 0..32767; idempotent ones only 0', () => {
    expect(checkProducerAdmission({ producerId: 1, producerEpoch: TRANSACTIONAL_PRODUCER_EPOCH_MAX, baseSequence: 0, lastOffsetDelta: 0, transactional: true }, ctx)).toBeNull();
    expect(checkProducerAdmission({ producerId: 1, producerEpoch: TRANSACTIONAL_PRODUCER_EPOCH_MAX + 1, baseSequence: 0, lastOffsetDelta: 0, transactional: true }, ctx)).toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
    expect(checkProducerAdmission({ producerId: 1, producerEpoch: 1, baseSequence: 0, lastOffsetDelta: 0 }, ctx)).toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
  });

  it('a coordinator writes transactional batches with base sequence -1 only, even for a producer unknown here', () => {
    const c = { allocatedEnd: 100, known: false, origin: 'coordinator' as const };
    expect(checkProducerAdmission({ producerId: 1, producerEpoch: 3, baseSequence: -1, lastOffsetDelta: 0, transactional: true }, c)).toBeNull();
    expect(checkProducerAdmission({ producerId: 1, producerEpoch: 3, baseSequence: 0, lastOffsetDelta: 0, transactional: true }, c)).toMatchObject({ code: 'INVALID_RECORD' });
    expect(checkProducerAdmission({ producerId: 1, producerEpoch: 0, baseSequence: -1, lastOffsetDelta: 0 }, c)).toMatchObject({ code: 'INVALID_RECORD' });
  });
});

describe('producer state snapshot, version 2', () => {
  it('keeps open transactions, coordinator epochs and marker-only entries', () => {
    const table = new Map<number, ProducerEntry>();
    recordBatch(table, data(7, 0, { lastOffsetDelta: 1, maxTimestamp: 55 }), { producersMax: 10, nowMs: 1 });
    recordBatch(table, marker(8, 2, false, 4, 9), { producersMax: 10, nowMs: 2 });
    recordBatch(table, data(3, 3, { baseSequence: -1 }), { producersMax: 10, nowMs: 3 });
    const snapshot = { offset: 4, producers: [...table.values()] };
    const decoded = decodeProducerSnapshot(encodeProducerSnapshot(snapshot));
    expect(decoded).toEqual(snapshot);
    expect(decoded?.producers.map((p) => p.currentTxnFirstOffset)).toEqual([0, -1, 3]);
    expect(decoded?.producers[0]?.lastTimestampMs).toBe(55);
  });

  it('still loads version 1 files, and refuses impossible version 2 entries', () => {
    const v1 = (json: string): Buffer => Buffer.concat([Buffer.from(`TRIBPS1 ${(crc32c(Buffer.from(json)) >>> 0).toString(16)}\n`, 'latin1'), Buffer.from(json)]);
    const entry = { producerId: 7, producerEpoch: 0, lastOffset: 1, batches: [{ firstSequence: 0, lastSequence: 1, firstOffset: 0, lastOffset: 1 }] };
    expect(decodeProducerSnapshot(v1(JSON.stringify({ offset: 2, producers: [entry] })))).toEqual({ offset: 2, producers: [entry] });
    // Version 1 knew no transactions.
    expect(decodeProducerSnapshot(v1(JSON.stringify({ offset: 2, producers: [{ ...entry, currentTxnFirstOffset: 0 }] })))).toBeUndefined();
    const v2 = (e: object): ProducerEntry[] | undefined => decodeProducerSnapshot(encodeProducerSnapshot({ offset: 10, producers: [e as ProducerEntry] }))?.producers as ProducerEntry[] | undefined;
    expect(v2({ ...entry, currentTxnFirstOffset: 5 })).toBeUndefined(); // opened after the producer's last write
    expect(v2({ ...entry, batches: [] })).toBeUndefined(); // no sequence, no marker, no transaction
    expect(v2({ ...entry, coordinatorEpoch: -2 })).toBeUndefined();
    expect(v2({ ...entry, currentTxnFirstOffset: 1, coordinatorEpoch: 0 })).toHaveLength(1);
  });
});
