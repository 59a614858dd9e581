// The producer-state snapshot behind its port: a Partition keeps the snapshot wherever its
// ProducerStateStore says, and the in-memory store gives it the file store's behaviour — loaded on a
// clean restart, not trusted when corrupt, removed by a truncation.
import { describe, expect, it } from 'vitest';
import { encodeRecordBatch } from '@tributary/protocol';
import { MemoryPartitionLog, parseNodeConfig, resolveTopicConfig } from '../src/index.js';
import { Partition } from '../src/internal.js';
import { InMemoryProducerStateStore, type ProducerStateStore } from '../src/replication/producer-state-store.js';
import { anyProducerIds, silentLogger } from './helpers.js';

const broker = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/unused' } });
const config = resolveTopicConfig({}, broker);
const info = { topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch: 1, partitionEpoch: 0, replicas: [1], isr: [1] };

const batch = (seq: number): Buffer => encodeRecordBatch({
  producerId: 7, producerEpoch: 0, baseSequence: seq,
  records: [0, 1].map((i) => ({ key: null, value: Buffer.from(`v${seq + i}`), timestamp: 1_000 })),
});
const open = (log: MemoryPartitionLog, producerStateStore: ProducerStateStore): Partition =>
  new Partition({ nodeId: 1, info, config, log, producerStateStore, logger: silentLogger, onHighWatermarkChange: () => undefined, producerIds: anyProducerIds });
const append = async (p: Partition, seq: number): Promise<number> => (await p.appendAsLeader(batch(seq), { requiredAcks: 1, nowMs: 0 })).batchBaseOffsets[0]!;

describe('producer state store', () => {
  it('a clean restart loads the snapshot from the store; a retry gets its original offsets', async () => {
    const log = new MemoryPartitionLog(config);
    const store = new InMemoryProducerStateStore();
    const first = open(log, store);
    expect(await first.loadProducerState()).toEqual({ snapshotOffset: undefined, scannedFrom: 0 });
    const offsets = [await append(first, 0), await append(first, 2)];
    await first.writeProducerSnapshot();
    expect(await store.read()).toBeDefined();
    const second = open(log, store);
    expect(await second.loadProducerState()).toEqual({ snapshotOffset: log.logEndOffset, scannedFrom: log.logEndOffset });
    expect(await append(second, 2)).toBe(offsets[1]);
  });

  it('corrupt bytes in the store are not trusted: the log is scanned instead', async () => {
    const log = new MemoryPartitionLog(config);
    const store = new InMemoryProducerStateStore();
    const p = open(log, store);
    await p.loadProducerState();
    const offset = await append(p, 0);
    await p.writeProducerSnapshot();
    const bytes = (await store.read())!;
    bytes[bytes.length - 3] ^= 0x01;
    await store.write(bytes);
    const reopened = open(log, store);
    expect(await reopened.loadProducerState()).toEqual({ snapshotOffset: undefined, scannedFrom: 0 });
    expect(await append(reopened, 0)).toBe(offset);
  });

  it('a truncation removes the snapshot from the store', async () => {
    const log = new MemoryPartitionLog(config);
    const store = new InMemoryProducerStateStore();
    const p = open(log, store);
    await p.loadProducerState();
    for (let seq = 0; seq < 6; seq += 2) await append(p, seq);
    await p.writeProducerSnapshot();
    await p.truncateToDivergence(p.generation, { epoch: 1, endOffset: 2 }, 0);
    expect(await store.read()).toBeUndefined();
  });

  it('read hands out a copy: changing it does not change the stored snapshot', async () => {
    const store = new InMemoryProducerStateStore();
    await store.write(Buffer.from('abc'));
    const copy = (await store.read())!;
    copy[0] = 0x78;
    expect((await store.read())!.toString()).toBe('abc');
  });
});
