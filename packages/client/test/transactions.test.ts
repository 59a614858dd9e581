// Transactions end to end against a real 3-node cluster (packages/testing startCluster): commit is
// visible to read_committed, abort is not, a second producer with the same transactional.id fences the
// first (and its open transaction is aborted), and consumed offsets commit with the transaction.
import { afterAll, describe, expect, it } from 'vitest';
import {
  Admin, Consumer, Producer, ProducerFencedError, type ConsumerOptions, type ConsumerRecord, type ProducerOptions,
} from '../src/index.js';
import { startCluster, type InProcessCluster } from '../../testing/src/index.js';

let started: Promise<InProcessCluster> | undefined;
let admin: Admin | undefined;
const closers: (() => Promise<void>)[] = [];

/** Started by the first test that runs (skipped tests start nothing). */
async function cluster(): Promise<InProcessCluster> {
  started ??= startCluster({ nodes: 3 });
  return started;
}

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await admin?.close();
  if (started !== undefined) await (await started).stop();
});

let topicSeq = 0;
async function createTopic(partitions: number): Promise<string> {
  const c = await cluster();
  admin ??= new Admin({ 'bootstrap.servers': c.bootstrapServers });
  const topic = `txn-${++topicSeq}`;
  await admin.createTopics([{ topic, numPartitions: partitions, replicationFactor: 3 }]);
  return topic;
}

async function producer(transactionalId: string, options: ProducerOptions = {}): Promise<Producer> {
  const p = new Producer({ 'bootstrap.servers': (await cluster()).bootstrapServers, 'transactional.id': transactionalId, 'linger.ms': 1, ...options });
  closers.push(() => p.close({ timeoutMs: 1_000 }));
  return p;
}

async function consumer(options: ConsumerOptions): Promise<Consumer> {
  const c = new Consumer({ 'bootstrap.servers': (await cluster()).bootstrapServers, 'auto.offset.reset': 'earliest', ...options });
  closers.push(() => c.close());
  return c;
}

/** Everything readable in `topic` now: polls until `expected` records or a quiet `quietMs` after the deadline. */
async function readAll(topic: string, partitions: number, isolation: 'read_committed' | 'read_uncommitted', expected: number, timeoutMs = 20_000): Promise<ConsumerRecord[]> {
  const c = await consumer({ 'isolation.level': isolation });
  c.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
  const out: ConsumerRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < expected && Date.now() < deadline) out.push(...await c.poll({ timeoutMs: 300 }));
  // A little longer: nothing more may show up (e.g. an aborted record).
  for (let i = 0; i < 3; i++) out.push(...await c.poll({ timeoutMs: 300 }));
  await c.close();
  return out;
}

const values = (records: readonly ConsumerRecord[]): string[] => records.map((r) => Buffer.from(r.value ?? []).toString()).sort();

describe('transactions against a cluster', () => {
  // needs broker transactions (issue 12 merge)
  it('a committed transaction is visible to read_committed, an aborted one is not (read_uncommitted sees both)', async () => {
    const topic = await createTopic(3);
    const p = await producer('it-commit-abort');
    await p.initTransactions();
    p.beginTransaction();
    await Promise.all([0, 1, 2].map((partition) => p.send({ topic, partition, value: `c${partition}` })));
    await p.commitTransaction();
    p.beginTransaction();
    await Promise.all([0, 1, 2].map((partition) => p.send({ topic, partition, value: `a${partition}` })));
    await p.abortTransaction();
    await p.transaction(async (tx) => { await tx.send({ topic, partition: 0, value: 'c3' }); });
    expect(values(await readAll(topic, 3, 'read_committed', 4))).toEqual(['c0', 'c1', 'c2', 'c3']);
    expect(values(await readAll(topic, 3, 'read_uncommitted', 7))).toEqual(['a0', 'a1', 'a2', 'c0', 'c1', 'c2', 'c3']);
    const [described] = await admin!.describeTransactions(['it-commit-abort']);
    expect(described!.state).toBe('CompleteCommit');
    expect((await admin!.listTransactions()).map((t) => t.transactionalId)).toContain('it-commit-abort');
  }, 120_000);

  // needs broker transactions (issue 12 merge)
  it('a second producer with the same transactional.id fences the first; the zombie\'s open transaction is aborted', async () => {
    const topic = await createTopic(1);
    const zombie = await producer('it-fence');
    await zombie.initTransactions();
    zombie.beginTransaction();
    await zombie.send({ topic, partition: 0, value: 'zombie' });
    const successor = await producer('it-fence');
    await successor.initTransactions();
    await expect(zombie.commitTransaction()).rejects.toBeInstanceOf(ProducerFencedError);
    expect(zombie.transactionState).toBe('FATAL_ERROR');
    await expect(zombie.send({ topic, partition: 0, value: 'late' })).rejects.toBeInstanceOf(ProducerFencedError);
    await successor.transaction(async (tx) => { await tx.send({ topic, partition: 0, value: 'successor' }); });
    expect(values(await readAll(topic, 1, 'read_committed', 1))).toEqual(['successor']);
    // The zombie's batch was written and then aborted, never committed.
    expect(values(await readAll(topic, 1, 'read_uncommitted', 2))).toEqual(['successor', 'zombie']);
  }, 120_000);

  // needs broker transactions (issue 12 merge)
  it('sendOffsetsToTransaction: the consumed offsets commit with the output, and not when it aborts', async () => {
    const input = await createTopic(1);
    const output = await createTopic(1);
    const plain = new Producer({ 'bootstrap.servers': (await cluster()).bootstrapServers, 'linger.ms': 0 });
    closers.push(() => plain.close());
    for (let i = 0; i < 4; i++) await plain.send({ topic: input, partition: 0, value: `in${i}` });
    const group = 'it-eos';
    const c = await consumer({ 'group.id': group, 'enable.auto.commit': false, 'isolation.level': 'read_committed' });
    c.subscribe([input]);
    const consumed: ConsumerRecord[] = [];
    const deadline = Date.now() + 30_000;
    while (consumed.length < 4 && Date.now() < deadline) consumed.push(...await c.poll({ timeoutMs: 300 }));
    expect(consumed).toHaveLength(4);
    const p = await producer('it-eos-app');
    await p.initTransactions();
    // The first two inputs, committed with their output.
    await p.transaction(async (tx) => {
      for (const r of consumed.slice(0, 2)) await tx.send({ topic: output, partition: 0, value: `out-${Buffer.from(r.value ?? []).toString()}` });
      await tx.sendOffsets([{ topic: input, partition: 0, offset: consumed[1]!.offset + 1 }], c.groupMetadata());
    });
    expect((await c.committed([{ topic: input, partition: 0 }]))[0]!.offset).toBe(consumed[1]!.offset + 1);
    // The next two, aborted: neither the output nor the offsets.
    p.beginTransaction();
    for (const r of consumed.slice(2)) await p.send({ topic: output, partition: 0, value: `out-${Buffer.from(r.value ?? []).toString()}` });
    await p.sendOffsetsToTransaction([{ topic: input, partition: 0, offset: consumed[3]!.offset + 1 }], c.groupMetadata());
    await p.abortTransaction();
    expect((await c.committed([{ topic: input, partition: 0 }]))[0]!.offset).toBe(consumed[1]!.offset + 1);
    expect(values(await readAll(output, 1, 'read_committed', 2))).toEqual(['out-in0', 'out-in1']);
  }, 120_000);

  // needs broker transactions (issue 12 merge)
  it('describe-producers shows an open transaction\'s first offset; aborting it there ends it (a hanging transaction)', async () => {
    const topic = await createTopic(1);
    const p = await producer('it-hanging', { 'transaction.timeout.ms': 600_000 });
    await p.initTransactions();
    p.beginTransaction();
    const first = await p.send({ topic, partition: 0, value: 'hanging' });
    const [described] = await admin!.describeProducers([{ topic, partition: 0 }]);
    const open = described!.activeProducers.find((s) => s.currentTransactionStartOffset === first.offset);
    expect(open).toBeDefined();
    await admin!.abortTransaction({ topic, partition: 0, producerId: open!.producerId, producerEpoch: open!.producerEpoch, coordinatorEpoch: Math.max(0, open!.coordinatorEpoch) });
    const [after] = await admin!.describeProducers([{ topic, partition: 0 }]);
    expect(after!.activeProducers.find((s) => s.producerId === open!.producerId)?.currentTransactionStartOffset ?? null).toBeNull();
    // The last stable offset moved past it: read_committed reads to the end (nothing, the record was aborted).
    expect(values(await readAll(topic, 1, 'read_committed', 0, 3_000))).toEqual([]);
  }, 120_000);
});
