// Producer, Consumer and Admin against a real in-process broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Admin, ConcurrentPollError, Consumer, IllegalStateError, MessageTooLargeError, NoOffsetForPartitionError,
  OffsetOutOfRangeError, Producer, TributaryClientError, UnknownTopicOrPartitionError, murmur2Partition,
  type ConsumerRecord, type RecordMetadata,
} from '../src/index.js';
import { startTestBroker, type TestBroker } from './broker-harness.js';

let broker: TestBroker;
let admin: Admin;
let bootstrap: { 'bootstrap.servers': string };

beforeAll(async () => {
  broker = await startTestBroker();
  bootstrap = { 'bootstrap.servers': broker.address };
  admin = new Admin(bootstrap);
});

afterAll(async () => {
  await admin?.close();
  await broker?.close();
});

let topicSeq = 0;
async function createTopic(numPartitions: number, configs: Record<string, string> = {}): Promise<string> {
  const topic = `t${++topicSeq}-${numPartitions}`;
  await admin.createTopics([{ topic, numPartitions, replicationFactor: 1, configs }]);
  return topic;
}

async function consumeExactly(consumer: Consumer, count: number, timeoutMs = 20_000): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) out.push(...await consumer.poll({ timeoutMs: 500 }));
  return out;
}

describe('produce 10k records over 3 partitions, consume them all in order', () => {
  for (const compression of ['none', 'gzip', 'lz4'] as const) {
    it(`compression.type=${compression}`, async () => {
      const topic = await createTopic(3);
      const n = 10_000;
      const producer = new Producer({ ...bootstrap, 'compression.type': compression, 'linger.ms': 5 });
      const t0 = performance.now();
      const mds = await Promise.all(Array.from({ length: n }, (_, i) => producer.send({ topic, value: `value-${i}`, headers: { i: String(i) } })));
      const produceMs = performance.now() - t0;
      await producer.close();

      // Metadata: offsets are dense per partition and increase in send order.
      const byPartition = new Map<number, RecordMetadata[]>();
      for (const md of mds) byPartition.set(md.partition, [...(byPartition.get(md.partition) ?? []), md]);
      expect(byPartition.size).toBeGreaterThan(1); // sticky partitioning moved between partitions
      for (const list of byPartition.values()) expect(list.map((m) => m.offset)).toEqual(list.map((_, i) => i));

      const consumer = new Consumer({ ...bootstrap, 'auto.offset.reset': 'earliest' });
      consumer.assign([0, 1, 2].map((partition) => ({ topic, partition })));
      const t1 = performance.now();
      const records = await consumeExactly(consumer, n);
      const consumeMs = performance.now() - t1;
      await consumer.close();

      expect(records).toHaveLength(n);
      // Exact values, in order per partition, where the producer was told they went.
      const expected = new Map<string, string>();
      mds.forEach((md, i) => expected.set(`${md.partition}:${md.offset}`, `value-${i}`));
      const lastOffset = new Map<number, number>();
      for (const r of records) {
        expect(r.value?.toString()).toBe(expected.get(`${r.partition}:${r.offset}`));
        expect(r.headers[0]?.value?.toString()).toBe(r.value?.toString().slice('value-'.length));
        expect(r.offset).toBe((lastOffset.get(r.partition) ?? -1) + 1);
        lastOffset.set(r.partition, r.offset);
        expect(r.timestampType).toBe('CreateTime');
      }
      console.log(`[client it] ${compression}: produced ${n} in ${produceMs.toFixed(0)} ms ` +
        `(${Math.round(n / (produceMs / 1000))} rec/s), consumed in ${consumeMs.toFixed(0)} ms (${Math.round(n / (consumeMs / 1000))} rec/s)`);
    });
  }
});

describe('producer', () => {
  it('keyed records land on murmur2(key) partitions, like the Java client', async () => {
    const topic = await createTopic(5);
    const producer = new Producer(bootstrap);
    const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`);
    const mds = await Promise.all(keys.map((key) => producer.send({ topic, key, value: 'x' })));
    await producer.close();
    mds.forEach((md, i) => expect(md.partition).toBe(murmur2Partition(Buffer.from(keys[i]!), 5)));
    expect(new Set(mds.map((m) => m.partition)).size).toBeGreaterThan(1);
  });

  it('explicit partitions, a user partitioner, the callback form, and idempotence granted', async () => {
    const topic = await createTopic(4);
    const producer = new Producer({ ...bootstrap, partitioner: (_t, _k, n) => n - 1 });
    const md = await producer.send({ topic, value: 'a', partition: 1, timestamp: 1_234 });
    expect(md).toMatchObject({ topic, partition: 1, offset: 0, timestamp: 1_234 });
    const viaCallback = await new Promise<RecordMetadata>((resolve, reject) => {
      void producer.send({ topic, value: 'b' }, (err, m) => (err === null ? resolve(m!) : reject(err))).catch(() => {});
    });
    expect(viaCallback.partition).toBe(3);
    expect(producer.idempotence.state).toBe('ready');
    const batch = await producer.sendBatch([{ topic, value: 'c' }, { topic, value: 'd' }]);
    expect(batch.map((m) => m.offset)).toEqual([1, 2]);
    await producer.close();
    await producer.close(); // idempotent
    await expect(producer.send({ topic, value: 'late' })).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('keeps send order per partition while sends wait for buffer.memory', async () => {
    const topic = await createTopic(1);
    const producer = new Producer({ ...bootstrap, 'buffer.memory': 8_000, 'batch.size': 4_000, 'linger.ms': 1 });
    await producer.send({ topic, partition: 0, value: 'first' }); // metadata cached: later sends may take the fast path
    // Mixed sizes: a large record that must wait for space is followed by small ones that would fit.
    const sizes = Array.from({ length: 300 }, (_, i) => 50 + ((i * 7919) % 2_500));
    const mds = await Promise.all(sizes.map((size, i) => producer.send({ topic, partition: 0, value: Buffer.alloc(size, i % 256) })));
    await producer.close();
    expect(mds.map((m) => m.offset)).toEqual(sizes.map((_, i) => i + 1));
  });

  it('acks=0, 1 and all', async () => {
    const topic = await createTopic(1);
    for (const acks of [0, 1, 'all'] as const) {
      const producer = new Producer({ ...bootstrap, acks });
      const mds = await Promise.all([1, 2, 3].map((i) => producer.send({ topic, value: `acks-${acks}-${i}`, partition: 0 })));
      await producer.close();
      if (acks === 0) expect(mds.every((m) => m.offset === -1)).toBe(true);
      else expect(mds.map((m) => m.offset)).toEqual([mds[0]!.offset, mds[0]!.offset + 1, mds[0]!.offset + 2]);
    }
    const consumer = new Consumer({ ...bootstrap, 'auto.offset.reset': 'earliest' });
    consumer.assign([{ topic, partition: 0 }]);
    const values = (await consumeExactly(consumer, 9)).map((r) => r.value?.toString());
    await consumer.close();
    expect(values).toEqual(['0', '1', 'all'].flatMap((a) => [1, 2, 3].map((i) => `acks-${a}-${i}`)));
  });

  it('a record over max.request.size fails with MessageTooLargeError without being sent', async () => {
    const topic = await createTopic(1);
    const producer = new Producer({ ...bootstrap, 'max.request.size': 1_000 });
    await expect(producer.send({ topic, value: Buffer.alloc(2_000) })).rejects.toBeInstanceOf(MessageTooLargeError);
    await producer.send({ topic, value: 'small' });
    await producer.close();
    const [latest] = await admin.listOffsets([{ topic, partition: 0, spec: 'latest' }]);
    expect(latest!.offset).toBe(1); // only the small one reached the broker
  });

  it('the broker\'s max.message.bytes rejection comes back as MessageTooLargeError, not retried', async () => {
    const topic = await createTopic(1, { 'max.message.bytes': '2000' });
    const producer = new Producer(bootstrap);
    const err = await producer.send({ topic, value: Buffer.alloc(5_000) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessageTooLargeError);
    expect((err as MessageTooLargeError).retriable).toBe(false);
    await producer.close();
  });

  it('an unknown topic fails with UnknownTopicOrPartitionError after max.block.ms', async () => {
    const producer = new Producer({ ...bootstrap, 'max.block.ms': 300 });
    const started = Date.now();
    await expect(producer.send({ topic: 'no-such-topic', value: 'x' })).rejects.toBeInstanceOf(UnknownTopicOrPartitionError);
    expect(Date.now() - started).toBeLessThan(5_000);
    const topic = await createTopic(2);
    await expect(producer.send({ topic, value: 'x', partition: 7 })).rejects.toBeInstanceOf(UnknownTopicOrPartitionError);
    await producer.close();
  });
});

describe('consumer', () => {
  let topic: string;
  const timestamps = [1_000, 2_000, 3_000, 4_000, 5_000];

  beforeAll(async () => {
    topic = await createTopic(2);
    const producer = new Producer(bootstrap);
    for (const partition of [0, 1]) {
      await Promise.all(timestamps.map((timestamp, i) => producer.send({ topic, partition, value: `p${partition}-${i}`, timestamp })));
    }
    await producer.close();
  });

  it('seek, seekToBeginning, seekToEnd and position', async () => {
    const consumer = new Consumer({ ...bootstrap, 'auto.offset.reset': 'latest' });
    const tp = { topic, partition: 0 };
    consumer.assign([tp]);
    expect(await consumer.position(tp)).toBe(5); // latest
    consumer.seek(tp, 3);
    expect(await consumer.position(tp)).toBe(3);
    expect((await consumeExactly(consumer, 2)).map((r) => r.offset)).toEqual([3, 4]);
    expect(await consumer.position(tp)).toBe(5);
    consumer.seekToBeginning([tp]);
    expect(await consumer.position(tp)).toBe(0);
    expect((await consumeExactly(consumer, 5)).map((r) => r.value?.toString())).toEqual([0, 1, 2, 3, 4].map((i) => `p0-${i}`));
    consumer.seekToEnd([tp]);
    expect(await consumer.poll({ timeoutMs: 200 })).toEqual([]);
    expect(await consumer.position(tp)).toBe(5);
    expect(() => consumer.seek({ topic, partition: 1 }, 0)).toThrow(IllegalStateError);
    await consumer.close();
  });

  it('skips records of a fetched batch that lie below the position', async () => {
    const consumer = new Consumer({ ...bootstrap, 'auto.offset.reset': 'earliest' });
    const tp = { topic, partition: 1 };
    consumer.assign([tp]);
    consumer.seek(tp, 2); // the five records were produced as one batch starting at 0
    const records = await consumeExactly(consumer, 3);
    expect(records.map((r) => r.offset)).toEqual([2, 3, 4]);
    expect(records.map((r) => r.timestamp)).toEqual([3_000, 4_000, 5_000]);
    await consumer.close();
  });

  it('offsetsForTimes', async () => {
    const consumer = new Consumer(bootstrap);
    const result = await consumer.offsetsForTimes([
      { topic, partition: 0, timestamp: 2_500 },
      { topic, partition: 1, timestamp: 0 },
      { topic, partition: 0, timestamp: 9_999 },
    ]);
    expect(result).toEqual([
      { topic, partition: 0, offsetAndTimestamp: { offset: 2, timestamp: 3_000 } },
      { topic, partition: 1, offsetAndTimestamp: { offset: 0, timestamp: 1_000 } },
      { topic, partition: 0, offsetAndTimestamp: null },
    ]);
    await consumer.close();
  });

  it('pause and resume', async () => {
    const consumer = new Consumer({ ...bootstrap, 'auto.offset.reset': 'earliest' });
    consumer.assign([{ topic, partition: 0 }, { topic, partition: 1 }]);
    consumer.pause([{ topic, partition: 1 }]);
    expect(consumer.paused()).toEqual([{ topic, partition: 1 }]);
    const first = await consumeExactly(consumer, 5);
    expect(new Set(first.map((r) => r.partition))).toEqual(new Set([0]));
    expect(await consumer.poll({ timeoutMs: 300 })).toEqual([]);
    consumer.resume([{ topic, partition: 1 }]);
    expect(consumer.paused()).toEqual([]);
    const rest = await consumeExactly(consumer, 5);
    expect(rest.map((r) => r.value?.toString())).toEqual([0, 1, 2, 3, 4].map((i) => `p1-${i}`));
    await consumer.close();
  });

  it('a poll while another is pending is a ConcurrentPollError', async () => {
    const consumer = new Consumer({ ...bootstrap, 'auto.offset.reset': 'latest' });
    consumer.assign([{ topic, partition: 0 }]);
    const pending = consumer.poll({ timeoutMs: 500 });
    await expect(consumer.poll({ timeoutMs: 10 })).rejects.toBeInstanceOf(ConcurrentPollError);
    expect(await pending).toEqual([]);
    expect(await consumer.poll({ timeoutMs: 10 })).toEqual([]); // fine once the first settled
    await consumer.close();
  });

  it('async iteration ends when the consumer closes', async () => {
    const consumer = new Consumer({ ...bootstrap, 'auto.offset.reset': 'earliest' });
    consumer.assign([{ topic, partition: 0 }]);
    const seen: number[] = [];
    for await (const record of consumer) {
      seen.push(record.offset);
      if (seen.length === 5) await consumer.close();
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('auto.offset.reset=none: no position is an error, and so is an out-of-range seek', async () => {
    const consumer = new Consumer({ ...bootstrap, 'auto.offset.reset': 'none' });
    const tp = { topic, partition: 0 };
    consumer.assign([tp]);
    await expect(consumer.poll({ timeoutMs: 100 })).rejects.toBeInstanceOf(NoOffsetForPartitionError);
    consumer.seek(tp, 50);
    const err = await consumeExactly(consumer, 1, 3_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffsetOutOfRangeError);
    consumer.seek(tp, 4);
    expect((await consumeExactly(consumer, 1)).map((r) => r.offset)).toEqual([4]);
    await consumer.close();
  });

  it('an out-of-range position resets per auto.offset.reset=earliest', async () => {
    const consumer = new Consumer({ ...bootstrap, 'auto.offset.reset': 'earliest' });
    const tp = { topic, partition: 0 };
    consumer.assign([tp]);
    consumer.seek(tp, 50);
    expect((await consumeExactly(consumer, 5)).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
    await consumer.close();
  });

  it('an unknown topic is an UnknownTopicOrPartitionError', async () => {
    const consumer = new Consumer(bootstrap);
    consumer.assign([{ topic: 'never-created', partition: 0 }]);
    await expect(consumer.poll({ timeoutMs: 200 })).rejects.toBeInstanceOf(UnknownTopicOrPartitionError);
    await consumer.close();
    await consumer.close();
  });
});

describe('admin', () => {
  it('creates, lists, describes, alters, grows and deletes topics with typed errors', async () => {
    const name = `admin-${Date.now()}`;
    const [created] = await admin.createTopics([{ topic: name, numPartitions: 2, replicationFactor: 1, configs: { 'retention.ms': '60000' } }]);
    expect(created).toMatchObject({ topic: name, numPartitions: 2, replicationFactor: 1, created: true });
    const dup = await admin.createTopics([{ topic: name, numPartitions: 2 }]).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(TributaryClientError);
    expect((dup as TributaryClientError).code).toBe('TOPIC_ALREADY_EXISTS');
    expect((await admin.createTopics([{ topic: name, numPartitions: 2 }], { ifNotExists: true }))[0]!.created).toBe(false);
    const dry = await admin.createTopics([{ topic: `${name}-dry`, numPartitions: 1 }], { validateOnly: true });
    expect(dry[0]!.created).toBe(false);
    expect((await admin.listTopics()).map((t) => t.name)).toContain(name);
    expect((await admin.listTopics()).map((t) => t.name)).not.toContain(`${name}-dry`);

    const [desc] = await admin.describeTopics([name]);
    expect(desc!.partitions.map((p) => p.partition)).toEqual([0, 1]);
    expect(desc!.partitions[0]).toMatchObject({ leader: 1, replicas: [1], isr: [1], logStartOffset: 0, highWatermark: 0, logEndOffset: 0 });
    expect(desc!.configs['retention.ms']).toBe('60000');

    await admin.alterConfigs([{ resource: { type: 'topic', name }, configs: [{ name: 'retention.ms', op: 'delete' }, { name: 'cleanup.policy', value: 'compact' }] }]);
    const [configs] = await admin.describeConfigs([{ type: 'topic', name }]);
    const byName = Object.fromEntries(configs!.configs.map((c) => [c.name, c]));
    expect(byName['cleanup.policy']).toMatchObject({ value: 'compact', isDefault: false });
    expect(byName['retention.ms']?.isDefault).toBe(true);
    const badConfig = await admin.alterConfigs([{ resource: { type: 'topic', name }, configs: [{ name: 'no.such.config', value: '1' }] }]).catch((e: unknown) => e);
    expect((badConfig as TributaryClientError).code).toBe('INVALID_CONFIG');

    await admin.createPartitions([{ topic: name, count: 4 }]);
    expect((await admin.describeTopics([name]))[0]!.partitions).toHaveLength(4);
    const shrink = await admin.createPartitions([{ topic: name, count: 2 }]).catch((e: unknown) => e);
    expect((shrink as TributaryClientError).code).toBe('INVALID_PARTITIONS');

    const offsets = await admin.listOffsets([{ topic: name, partition: 3, spec: 'earliest' }, { topic: name, partition: 3, spec: 'latest' }]);
    expect(offsets.map((o) => o.offset)).toEqual([0, 0]);

    await admin.deleteTopics([name]);
    expect((await admin.listTopics()).map((t) => t.name)).not.toContain(name);
    const missing = await admin.describeTopics([name]).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UnknownTopicOrPartitionError);
  });

  it('describeCluster', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.clusterId).not.toBe('');
    expect(cluster.controller.leaderId).toBe(1);
    expect(cluster.nodes).toEqual([expect.objectContaining({ id: 1, address: broker.address, fenced: false })]);
  });
});
