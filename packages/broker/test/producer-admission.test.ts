// Which producer ids a partition leader admits (replication/producer-admission.ts): only ids from an
// allocated block, only epochs a broker gave out, a new id only from sequence 0 — refused before they take
// a slot in the producer table, so a flood of made-up ids cannot evict a real producer's deduplication
// state. The table's limit is named and configurable; a full table expires idle ids
// (producer.id.expiration.ms) and otherwise refuses a new id instead of evicting a live one.
import { describe, expect, it } from 'vitest';
import { encodeRecordBatch } from '@tributary/protocol';
import { MemoryPartitionLog, parseNodeConfig, resolveTopicConfig } from '../src/index.js';
import { Partition, type ProducerIdPolicy } from '../src/internal.js';
import { checkProducerAdmission, PRODUCER_EPOCH_ISSUED_MAX } from '../src/replication/producer-admission.js';
import { silentLogger } from './helpers.js';

const broker = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/unused' } });
const config = resolveTopicConfig({}, broker);
const info = { topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1], isr: [1] };
/** Ids [0, 1000) are allocated in this partition's metadata. */
const ALLOCATED_END = 1000;

function leader(policy: Partial<ProducerIdPolicy> = {}): Partition {
  const producerIds: ProducerIdPolicy = {
    allocatedEnd: () => ALLOCATED_END, producersMax: broker.producerIdsPerPartitionMax, expirationMs: broker.producerIdExpirationMs, nowMs: () => 0, ...policy,
  };
  return new Partition({ nodeId: 1, info, config, log: new MemoryPartitionLog(config), logger: silentLogger, onHighWatermarkChange: () => undefined, producerIds });
}

const batch = (producerId: number, baseSequence: number, producerEpoch = 0): Buffer =>
  encodeRecordBatch({ producerId, producerEpoch, baseSequence, records: [{ key: null, value: Buffer.from(`${producerId}-${baseSequence}`), timestamp: 1 }] });
const append = async (p: Partition, b: Buffer): Promise<number> => (await p.appendAsLeader(b, { requiredAcks: 1, nowMs: 0 })).batchBaseOffsets[0]!;
const refusal = async (p: Partition, b: Buffer): Promise<string> => p.appendAsLeader(b, { requiredAcks: 1, nowMs: 0 }).then(() => 'accepted', (err: { code?: string }) => err.code ?? String(err));

describe('producer admission (pure)', () => {
  const ok = { allocatedEnd: 10, known: false };
  it('names the reason for each refusal', () => {
    expect(checkProducerAdmission({ producerId: -1, producerEpoch: -1, baseSequence: -1, lastOffsetDelta: 0 }, ok)).toBeNull();
    expect(checkProducerAdmission({ producerId: 9, producerEpoch: 0, baseSequence: 0, lastOffsetDelta: 0 }, ok)).toBeNull();
    expect(checkProducerAdmission({ producerId: 10, producerEpoch: 0, baseSequence: 0, lastOffsetDelta: 0 }, ok)?.code).toBe('UNKNOWN_PRODUCER_ID');
    expect(checkProducerAdmission({ producerId: -7, producerEpoch: 0, baseSequence: 0, lastOffsetDelta: 0 }, ok)?.code).toBe('UNKNOWN_PRODUCER_ID');
    expect(checkProducerAdmission({ producerId: 9, producerEpoch: PRODUCER_EPOCH_ISSUED_MAX + 1, baseSequence: 0, lastOffsetDelta: 0 }, ok)?.code).toBe('INVALID_PRODUCER_EPOCH');
    expect(checkProducerAdmission({ producerId: 9, producerEpoch: -1, baseSequence: 0, lastOffsetDelta: 0 }, ok)?.code).toBe('INVALID_PRODUCER_EPOCH');
    expect(checkProducerAdmission({ producerId: 9, producerEpoch: 0, baseSequence: 3, lastOffsetDelta: 0 }, ok)?.code).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(checkProducerAdmission({ producerId: 9, producerEpoch: 0, baseSequence: 3, lastOffsetDelta: 0 }, { ...ok, known: true })).toBeNull();
  });
});

describe('producer admission (partition leader)', () => {
  it('refuses a made-up producer id, a never-issued epoch and a new id not starting at sequence 0, appending nothing', async () => {
    const p = leader();
    expect(await refusal(p, batch(ALLOCATED_END + 123_456, 0))).toBe('UNKNOWN_PRODUCER_ID');
    expect(await refusal(p, batch(5, 0, 1))).toBe('INVALID_PRODUCER_EPOCH');
    expect(await refusal(p, batch(5, 4))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(p.logEndOffset).toBe(0);
    // The real producer: from sequence 0, then on; non-idempotent batches are not affected.
    expect(await append(p, batch(5, 0))).toBe(0);
    expect(await append(p, batch(5, 1))).toBe(1);
    expect(await append(p, encodeRecordBatch({ records: [{ key: null, value: Buffer.from('plain'), timestamp: 1 }] }))).toBe(2);
  });

  it('a flood of refused ids does not evict a real producer: its retry of an acknowledged batch still deduplicates', async () => {
    const p = leader();
    const acked = await append(p, batch(7, 0));
    // More than the whole table (producer.ids.per.partition.max, default 10000) of made-up ids, then ids
    // inside the allocated range that this partition never saw, not starting at sequence 0.
    const floodIds = broker.producerIdsPerPartitionMax + 1;
    for (let i = 0; i < floodIds; i++) expect(await refusal(p, batch(ALLOCATED_END + i, 0))).toBe('UNKNOWN_PRODUCER_ID');
    for (let id = 8; id < ALLOCATED_END; id++) expect(await refusal(p, batch(id, 1))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    const leo = p.logEndOffset;
    expect(await append(p, batch(7, 0))).toBe(acked); // the retry: its original offset, nothing appended
    expect(p.logEndOffset).toBe(leo);
    expect(leo).toBe(1);
  });

  it('a full table expires idle ids first, and otherwise refuses a new id rather than evict a live one', async () => {
    let nowMs = 1_000;
    const p = leader({ producersMax: 3, expirationMs: 60_000, nowMs: () => nowMs });
    const first = await append(p, batch(1, 0));
    nowMs += 10_000;
    const second = await append(p, batch(2, 0));
    await append(p, batch(3, 0));
    expect(await refusal(p, batch(4, 0))).toBe('THROTTLING_QUOTA_EXCEEDED');
    expect(await append(p, batch(1, 0))).toBe(first); // still deduplicated: nobody was evicted
    expect(p.logEndOffset).toBe(3);
    // Producer 1's last write is now producer.id.expiration.ms old: it makes room for producer 4.
    nowMs = 1_000 + 60_000;
    expect(await append(p, batch(4, 0))).toBe(3);
    expect(await append(p, batch(2, 0))).toBe(second); // unexpired producers keep their state
    // Producer 1 was forgotten: like any producer without state it must start again at sequence 0.
    expect(await refusal(p, batch(1, 1))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
  });

  it('several batches of one new producer in one request are judged in order', async () => {
    const p = leader();
    const two = Buffer.concat([batch(9, 0), batch(9, 1)]);
    expect((await p.appendAsLeader(two, { requiredAcks: 1, nowMs: 0 })).batchBaseOffsets).toEqual([0, 1]);
    expect(await refusal(p, Buffer.concat([batch(10, 1), batch(10, 2)]))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
  });
});
