// The consumer's isolation.level=read_committed against a scripted broker: the fetch asks
// READ_COMMITTED, batches of aborted transactions (from the response's aborted list) and control
// batches are not returned, and the position moves past them. groupMetadata() for
// sendOffsetsToTransaction.
import { encodeRecordBatch, stampBatch, tributary } from '@tributary/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Consumer, IllegalStateError, type ConsumerOptions } from '../src/index.js';
import { startFakeBroker, type FakeBroker } from './fake-broker.js';

const TOPIC = 'fake';
let fake: FakeBroker | undefined;
let consumer: Consumer | undefined;

afterEach(async () => {
  await consumer?.close();
  await fake?.close();
  consumer = undefined;
  fake = undefined;
});

function data(baseOffset: number, producerId: number, values: string[], transactional: boolean): Buffer {
  const buf = encodeRecordBatch({
    records: values.map((v, i) => ({ value: Buffer.from(v), timestamp: 1_000 + i })),
    producerId, producerEpoch: 1, baseSequence: producerId < 0 ? -1 : 0, transactional,
  });
  stampBatch(buf, 0, { baseOffset, partitionLeaderEpoch: 0 });
  return buf;
}

function marker(baseOffset: number, producerId: number, commit: boolean): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(commit ? 1 : 0, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(3, 2); // coordinator epoch
  const buf = encodeRecordBatch({ records: [{ key, value, timestamp: 1_000 }], producerId, producerEpoch: 2, baseSequence: -1, transactional: true, control: true });
  stampBatch(buf, 0, { baseOffset, partitionLeaderEpoch: 0 });
  return buf;
}

// offsets: 0-1 P5 aborted data, 2 plain, 3 P5 ABORT, 4 P6 data, 5 P5 data (new transaction), 6 P6 COMMIT, 7 P5 COMMIT
const LOG = Buffer.concat([
  data(0, 5, ['x1', 'x2'], true), data(2, -1, ['plain'], false), marker(3, 5, false),
  data(4, 6, ['c6'], true), data(5, 5, ['c5'], true), marker(6, 6, true), marker(7, 5, true),
]);

async function setup(options: ConsumerOptions): Promise<{ fake: FakeBroker; consumer: Consumer }> {
  fake = await startFakeBroker(TOPIC, 1, {
    fetch: (p) => (Number(p.fetchOffset) === 0
      ? { highWatermark: 8, lastStableOffset: 8, recordBatch: LOG, abortedTransactions: [{ producerId: 5, firstOffset: 0 }] }
      : { highWatermark: 8, lastStableOffset: 8 }),
  });
  consumer = new Consumer({ 'bootstrap.servers': fake.address, 'fetch.max.wait.ms': 50, ...options });
  consumer.assign([{ topic: TOPIC, partition: 0 }]);
  consumer.seek({ topic: TOPIC, partition: 0 }, 0);
  return { fake, consumer };
}

async function pollValues(c: Consumer, count: number): Promise<string[]> {
  const out: string[] = [];
  await vi.waitFor(async () => {
    for (const r of await c.poll({ timeoutMs: 100 })) out.push(Buffer.from(r.value ?? []).toString());
    expect(out.length).toBeGreaterThanOrEqual(count);
  }, { timeout: 5_000 });
  return out;
}

describe('isolation.level=read_committed', () => {
  it('asks READ_COMMITTED, drops the aborted transaction, never returns markers, and moves past them', async () => {
    const { fake, consumer } = await setup({ 'isolation.level': 'read_committed' });
    expect(await pollValues(consumer, 3)).toEqual(['plain', 'c6', 'c5']);
    expect(await consumer.position({ topic: TOPIC, partition: 0 })).toBe(8);
    expect(fake.fetchRequests[0]!.isolationLevel).toBe(tributary.v1.IsolationLevel.READ_COMMITTED);
  });

  it('read_uncommitted returns the aborted records too (control batches still never)', async () => {
    const { fake, consumer } = await setup({});
    expect(await pollValues(consumer, 5)).toEqual(['x1', 'x2', 'plain', 'c6', 'c5']);
    expect(await consumer.position({ topic: TOPIC, partition: 0 })).toBe(8);
    expect(fake.fetchRequests[0]!.isolationLevel).toBe(tributary.v1.IsolationLevel.READ_UNCOMMITTED);
  });
});

describe('groupMetadata()', () => {
  it('needs group.id; before a join the generation is -1 and the member id empty', async () => {
    const plain = new Consumer({ 'bootstrap.servers': '127.0.0.1:1' });
    expect(() => plain.groupMetadata()).toThrow(IllegalStateError);
    await plain.close();
    const member = new Consumer({ 'bootstrap.servers': '127.0.0.1:1', 'group.id': 'g', 'group.instance.id': 'i-1' });
    expect(member.groupMetadata()).toEqual({ groupId: 'g', generationId: -1, memberId: '', groupInstanceId: 'i-1' });
    await member.close();
  });
});

describe('committed offsets under read_committed (KIP-447 require_stable)', () => {
  const stableAfter = (unstableAnswers: number) => {
    let asked = 0;
    return (r: tributary.v1.OffsetFetchRequest): tributary.v1.IOffsetFetchResponse => {
      asked += 1;
      const unstable = asked <= unstableAnswers;
      return {
        topics: r.topics.map((t) => ({
          topic: t.topic,
          partitions: t.partitions.map((partition) => (unstable
            ? { partition, committedOffset: -1, error: { code: tributary.v1.ErrorCode.UNSTABLE_OFFSET_COMMIT } }
            : { partition, committedOffset: 42, error: { code: 0 } })),
        })),
      };
    };
  };

  async function member(options: ConsumerOptions, unstableAnswers: number): Promise<{ fake: FakeBroker; consumer: Consumer }> {
    fake = await startFakeBroker(TOPIC, 1, { txn: { offsetFetch: stableAfter(unstableAnswers) } });
    consumer = new Consumer({ 'bootstrap.servers': fake.address, 'group.id': 'g', 'retry.backoff.ms': 5, 'retry.backoff.max.ms': 20, ...options });
    consumer.subscribe([TOPIC]);
    return { fake, consumer };
  }

  const offsetFetches = (f: FakeBroker) => f.txnCalls.filter((c) => c.method === 'offsetFetch').map((c) => c.request as tributary.v1.OffsetFetchRequest);

  it('asks with require_stable and retries UNSTABLE_OFFSET_COMMIT until the pending transaction completes', async () => {
    const { fake, consumer } = await member({ 'isolation.level': 'read_committed' }, 3);
    expect(await consumer.committed([{ topic: TOPIC, partition: 0 }])).toEqual([{ topic: TOPIC, partition: 0, offset: 42, metadata: '' }]);
    expect(offsetFetches(fake).map((r) => r.requireStable)).toEqual([true, true, true, true]);
  });

  it('gives up after max.poll.interval.ms with UNSTABLE_OFFSET_COMMIT (the limit)', async () => {
    const { fake, consumer } = await member({ 'isolation.level': 'read_committed', 'max.poll.interval.ms': 200 }, Number.MAX_SAFE_INTEGER);
    const started = Date.now();
    await expect(consumer.committed([{ topic: TOPIC, partition: 0 }])).rejects.toMatchObject({ code: 'UNSTABLE_OFFSET_COMMIT' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(offsetFetches(fake).length).toBeGreaterThan(1);
  });

  it('read_uncommitted does not ask for stable offsets', async () => {
    const { fake, consumer } = await member({}, 0);
    expect((await consumer.committed([{ topic: TOPIC, partition: 0 }]))[0]!.offset).toBe(42);
    expect(offsetFetches(fake).map((r) => r.requireStable)).toEqual([false]);
  });
});
