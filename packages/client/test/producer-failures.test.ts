// Producer failure paths against a scripted broker: retries with metadata refresh and stable sequence
// numbers, delivery timeout, non-retriable errors, buffer.memory blocking, idempotence degradation.
import { ErrorCode } from '@tributary/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BrokerError, DeliveryTimeoutError, InvalidRecordError, MaxBlockTimeoutError, Producer, type ProducerOptions } from '../src/index.js';
import { startFakeBroker, type FakeBroker, type FakeBrokerScript } from './fake-broker.js';

const TOPIC = 'fake';
let fake: FakeBroker | undefined;
let producer: Producer | undefined;

afterEach(async () => {
  await producer?.close({ timeoutMs: 0 });
  await fake?.close();
  producer = undefined;
  fake = undefined;
});

async function setup(script: FakeBrokerScript, options: ProducerOptions = {}): Promise<{ fake: FakeBroker; producer: Producer }> {
  fake = await startFakeBroker(TOPIC, 2, script);
  producer = new Producer({
    'bootstrap.servers': fake.address, 'linger.ms': 0, 'retry.backoff.ms': 10, 'retry.backoff.max.ms': 40,
    'request.timeout.ms': 1_000, 'delivery.timeout.ms': 5_000, ...options,
  });
  return { fake, producer };
}

describe('producer retries', () => {
  it('retries NOT_LEADER_OR_FOLLOWER after refreshing metadata, resending the same sequence', async () => {
    let answered = 0;
    const { fake, producer } = await setup({
      initProducerId: () => ({ producerId: 77, producerEpoch: 3 }),
      produce: () => (++answered <= 2 ? { code: ErrorCode.NOT_LEADER_OR_FOLLOWER } : { code: 0, baseOffset: 10 }),
    });
    const md = await producer.send({ topic: TOPIC, value: 'v', partition: 1 });
    expect(md).toMatchObject({ partition: 1, offset: 10 });
    expect(fake.produced).toHaveLength(3);
    expect(fake.produced.map((p) => [p.batch.producerId, p.batch.producerEpoch, p.batch.baseSequence])).toEqual([[77, 3, 0], [77, 3, 0], [77, 3, 0]]);
    expect(fake.metadataRequests).toBeGreaterThanOrEqual(2); // bootstrap + refresh after the leadership error
    expect(producer.idempotence).toEqual({ state: 'ready', producerId: 77, producerEpoch: 3 });
  });

  it('refreshes metadata once it is older than metadata.max.age.ms', async () => {
    const { fake, producer } = await setup({}, { 'metadata.max.age.ms': 100 });
    await producer.send({ topic: TOPIC, value: 'a' });
    const before = fake.metadataRequests;
    await new Promise((r) => setTimeout(r, 250));
    await producer.send({ topic: TOPIC, value: 'b' });
    await vi.waitFor(() => expect(fake.metadataRequests).toBeGreaterThan(before), { timeout: 2_000 });
  });

  it('sequence numbers advance per partition by the record count of each batch', async () => {
    const { fake, producer } = await setup({ initProducerId: () => ({ producerId: 5, producerEpoch: 0 }) });
    await Promise.all([producer.send({ topic: TOPIC, value: 'a', partition: 0 }), producer.send({ topic: TOPIC, value: 'b', partition: 0 })]);
    await producer.send({ topic: TOPIC, value: 'c', partition: 0 });
    await producer.send({ topic: TOPIC, value: 'd', partition: 1 });
    const seqs = fake.produced.map((p) => [p.partition, p.batch.baseSequence, p.batch.recordCount]);
    expect(seqs).toEqual([[0, 0, 2], [0, 2, 1], [1, 0, 1]]);
  });

  it('max.in.flight.requests.per.connection: no more unanswered requests than the limit, the rest wait', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { fake, producer } = await setup(
      { produce: () => gate.then(() => ({ code: 0, baseOffset: 0 })) },
      { 'max.in.flight.requests.per.connection': 2, 'enable.idempotence': false, 'request.timeout.ms': 30_000, 'delivery.timeout.ms': 60_000 },
    );
    // Each send is its own request: wait until the previous one has reached the broker.
    const sends = [producer.send({ topic: TOPIC, value: 'a', partition: 0 })];
    await vi.waitFor(() => expect(fake.produceRequests).toBe(1), { timeout: 5_000 });
    sends.push(producer.send({ topic: TOPIC, value: 'b', partition: 1 }));
    await vi.waitFor(() => expect(fake.produceRequests).toBe(2), { timeout: 5_000 });
    // Both slots are taken: these must wait, however long the broker takes.
    sends.push(producer.send({ topic: TOPIC, value: 'c', partition: 0 }), producer.send({ topic: TOPIC, value: 'd', partition: 1 }));
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.produceRequests).toBe(2);
    expect(fake.produced.map((p) => Buffer.from(p.batch.records[0]?.value ?? []).toString())).toEqual(['a', 'b']);
    release();
    const results = await Promise.all(sends);
    expect(results.map((r) => r.partition)).toEqual([0, 1, 0, 1]);
    expect(fake.produced.map((p) => Buffer.from(p.batch.records[0]?.value ?? []).toString()).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(fake.produceRequests).toBeGreaterThan(2);
  });

  it('a record that cannot be delivered fails with DeliveryTimeoutError carrying the last error', async () => {
    const { fake, producer } = await setup(
      { produce: () => ({ code: ErrorCode.NOT_ENOUGH_REPLICAS }) },
      { 'delivery.timeout.ms': 600, 'request.timeout.ms': 200 },
    );
    const started = Date.now();
    const err = await producer.send({ topic: TOPIC, value: 'v' }).catch((e: unknown) => e);
    const elapsedMs = Date.now() - started;
    expect(err).toBeInstanceOf(DeliveryTimeoutError);
    expect((err as DeliveryTimeoutError).cause).toBeInstanceOf(BrokerError);
    expect(((err as DeliveryTimeoutError).cause as BrokerError).code).toBe('NOT_ENOUGH_REPLICAS');
    expect(elapsedMs).toBeGreaterThanOrEqual(500);
    expect(elapsedMs).toBeLessThan(3_000);
    expect(fake.produced.length).toBeGreaterThan(1);
  });

  it('a broker that never answers: request.timeout.ms per attempt, then DeliveryTimeoutError', async () => {
    const { producer } = await setup({ produce: () => undefined }, { 'delivery.timeout.ms': 700, 'request.timeout.ms': 300 });
    const err = await producer.send({ topic: TOPIC, value: 'v' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryTimeoutError);
    expect((err as DeliveryTimeoutError).cause).toMatchObject({ code: 'REQUEST_TIMED_OUT' });
  });

  it('retries = 0 gives the broker error itself', async () => {
    const { fake, producer } = await setup({ produce: () => ({ code: ErrorCode.NOT_ENOUGH_REPLICAS }) }, { retries: 0 });
    await expect(producer.send({ topic: TOPIC, value: 'v' })).rejects.toMatchObject({ code: 'NOT_ENOUGH_REPLICAS' });
    expect(fake.produced).toHaveLength(1);
  });

  it('a non-retriable error fails at once', async () => {
    const { fake, producer } = await setup({ produce: () => ({ code: ErrorCode.INVALID_RECORD }) });
    const err = await producer.send({ topic: TOPIC, value: 'v' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect(err).toMatchObject({ code: 'INVALID_RECORD', retriable: false });
    expect(fake.produced).toHaveLength(1);
  });
});

describe('producer limits and degradation', () => {
  it('buffer.memory is bounded: send waits max.block.ms for space, then fails', async () => {
    const { producer } = await setup({ produce: () => undefined }, { 'buffer.memory': 2_000, 'max.block.ms': 200, 'request.timeout.ms': 5_000, 'delivery.timeout.ms': 10_000 });
    const first = producer.send({ topic: TOPIC, value: Buffer.alloc(1_500), partition: 0 });
    first.catch(() => {});
    const started = Date.now();
    await expect(producer.send({ topic: TOPIC, value: Buffer.alloc(1_000), partition: 0 })).rejects.toBeInstanceOf(MaxBlockTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await producer.close({ timeoutMs: 0 });
    await expect(first).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('enable.idempotence degrades honestly when the broker lacks InitProducerId', async () => {
    const { fake, producer } = await setup({});
    const md = await producer.send({ topic: TOPIC, value: 'v' });
    expect(md.offset).toBe(0);
    expect(producer.idempotence.state).toBe('unsupported');
    expect(fake.produced[0]!.batch).toMatchObject({ producerId: -1, baseSequence: -1 });
  });

  it('enable.idempotence never sends without a producer id when InitProducerId fails for a while (no controller)', async () => {
    // Refused past max.block.ms: the producer keeps asking, and sends only once it has an id — a send
    // without one could be duplicated by a retry.
    let grantAfterMs = Date.now() + 700;
    const { fake, producer } = await setup({
      initProducerId: () => (Date.now() < grantAfterMs ? { code: ErrorCode.REQUEST_TIMED_OUT } : { producerId: 77, producerEpoch: 0 }),
      produce: () => ({ code: 0, baseOffset: 0 }),
    }, { 'max.block.ms': 200, 'retry.backoff.ms': 20, 'retry.backoff.max.ms': 50, 'request.timeout.ms': 1_000, 'delivery.timeout.ms': 5_000 });
    await producer.send({ topic: TOPIC, value: 'v', partition: 0 });
    expect(producer.idempotence).toMatchObject({ state: 'ready', producerId: 77 });
    expect(fake.produced.map((p) => p.batch.producerId)).toEqual([77]);
    grantAfterMs = 0;
  });

  it('malformed records are refused before anything is sent', async () => {
    const { fake, producer } = await setup({});
    await expect(producer.send({ topic: TOPIC, value: 42 as never })).rejects.toBeInstanceOf(InvalidRecordError);
    await expect(producer.send({ topic: '', value: 'v' })).rejects.toBeInstanceOf(InvalidRecordError);
    await expect(producer.send({ topic: TOPIC } as never)).rejects.toMatchObject({ code: 'INVALID_RECORD' });
    await expect(producer.send({ topic: TOPIC, value: 'v', timestamp: -5 })).rejects.toBeInstanceOf(InvalidRecordError);
    await expect(producer.send({ topic: TOPIC, value: 'v', headers: { h: 7 as never } })).rejects.toBeInstanceOf(InvalidRecordError);
    expect(fake.produced).toHaveLength(0);
    // A user partitioner returning a partition out of range is an error too.
    const bad = new Producer({ 'bootstrap.servers': fake.address, partitioner: () => 9 });
    await expect(bad.send({ topic: TOPIC, value: 'v' })).rejects.toMatchObject({ code: 'ILLEGAL_STATE' });
    await bad.close();
  });

  it('enable.idempotence=false sends no producer id', async () => {
    const { fake, producer } = await setup({ initProducerId: () => ({ producerId: 1, producerEpoch: 0 }) }, { 'enable.idempotence': false });
    await producer.send({ topic: TOPIC, value: 'v' });
    expect(producer.idempotence.state).toBe('disabled');
    expect(fake.produced[0]!.batch).toMatchObject({ producerId: -1, baseSequence: -1 });
  });
});
