// Idempotent producer error handling against a scripted broker, as Kafka's client does it:
// INVALID_PRODUCER_EPOCH / PRODUCER_FENCED are fatal (every pending and later send fails, nothing is
// resent); OUT_OF_ORDER_SEQUENCE_NUMBER is retried while an earlier batch of the partition is still
// unacknowledged, and fails (with a new producer id for later sends) when every earlier batch was acked.
import { ErrorCode } from '@tributary/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OutOfOrderSequenceError, Producer, ProducerFencedError, type ProducerOptions } from '../src/index.js';
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

const valueOf = (p: { batch: { records: readonly { value: Uint8Array | null }[] } }): string => Buffer.from(p.batch.records[0]?.value ?? []).toString();

describe('idempotent producer: fencing', () => {
  for (const code of [ErrorCode.INVALID_PRODUCER_EPOCH, ErrorCode.PRODUCER_FENCED]) {
    it(`${ErrorCode[code]} fails the batch, every queued send and every later send with ProducerFencedError; nothing is resent`, async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      const { fake, producer } = await setup({
        initProducerId: () => ({ producerId: 9, producerEpoch: 1 }),
        produce: () => gate.then(() => ({ code })),
      }, { 'max.in.flight.requests.per.connection': 1 });
      const first = producer.send({ topic: TOPIC, value: 'a', partition: 0 }).catch((e: unknown) => e);
      await vi.waitFor(() => expect(fake.produceRequests).toBe(1), { timeout: 5_000 });
      // Queued behind the one request allowed in flight.
      const queued = [
        producer.send({ topic: TOPIC, value: 'b', partition: 0 }).catch((e: unknown) => e),
        producer.send({ topic: TOPIC, value: 'c', partition: 1 }).catch((e: unknown) => e),
      ];
      release();
      expect(await first).toBeInstanceOf(ProducerFencedError);
      for (const e of await Promise.all(queued)) expect(e).toBeInstanceOf(ProducerFencedError);
      await expect(producer.send({ topic: TOPIC, value: 'd', partition: 1 })).rejects.toBeInstanceOf(ProducerFencedError);
      await producer.flush(); // resolves: nothing is left pending
      expect(fake.produced.map(valueOf)).toEqual(['a']);
      expect(producer.idempotence.state).toBe('fenced');
      expect((await first as ProducerFencedError).retriable).toBe(false);
    });
  }
});

describe('idempotent producer: OUT_OF_ORDER_SEQUENCE_NUMBER', () => {
  it('is retried while an earlier batch of the partition is unacknowledged (max.in.flight > 1)', async () => {
    // The first request times out once (no answer); the second, carrying sequence 1, is refused as out of
    // order until the first's retry lands: then both succeed, in order.
    let firstAnswered = false;
    const { fake, producer } = await setup({
      initProducerId: () => ({ producerId: 4, producerEpoch: 0 }),
      produce: (batch) => {
        if (batch.baseSequence === 0) {
          if (!firstAnswered && fake!.produced.filter((p) => p.batch.baseSequence === 0).length === 1) return undefined; // lost
          firstAnswered = true;
          return { code: 0, baseOffset: 0 };
        }
        return firstAnswered ? { code: 0, baseOffset: 1 } : { code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
      },
    }, { 'max.in.flight.requests.per.connection': 5, 'request.timeout.ms': 300 });
    const a = producer.send({ topic: TOPIC, value: 'a', partition: 0 });
    await vi.waitFor(() => expect(fake.produceRequests).toBe(1), { timeout: 5_000 });
    const b = producer.send({ topic: TOPIC, value: 'b', partition: 0 });
    expect((await a).offset).toBe(0);
    expect((await b).offset).toBe(1);
    expect(fake.produced.filter((p) => p.batch.baseSequence === 1).length).toBeGreaterThanOrEqual(1);
    expect(producer.idempotence).toMatchObject({ state: 'ready', producerId: 4 });
  });

  for (const code of [ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, ErrorCode.UNKNOWN_PRODUCER_ID]) {
    it(`${ErrorCode[code]} is retried when an earlier batch was in flight as it was sent, even if that one's ack arrives first`, async () => {
      // Separate gRPC calls carry no processing order: the broker judged 'b' (sequence 1) before 'a'
      // (sequence 0) arrived, and its refusal reaches the client after 'a' was acknowledged. Judged when
      // the answer came (every earlier batch acknowledged) it looked certain; it is not — resend 'b'.
      let aAcked: () => void = () => undefined;
      const aAckedGate = new Promise<void>((resolve) => { aAcked = resolve; });
      let aLanded = false;
      const { fake, producer } = await setup({
        initProducerId: () => ({ producerId: 6, producerEpoch: 0 }),
        produce: async (batch) => {
          if (batch.baseSequence === 0) {
            await vi.waitFor(() => expect(fake!.produceRequests).toBe(2), { timeout: 5_000 }); // 'b' is on the wire
            aLanded = true;
            return { code: 0, baseOffset: 0 };
          }
          if (!aLanded || fake!.produced.filter((p) => p.batch.baseSequence === 1).length === 1) {
            await aAckedGate; // answered only after the client has 'a''s ack
            return { code };
          }
          return { code: 0, baseOffset: 1 };
        },
      }, { 'max.in.flight.requests.per.connection': 5 });
      const a = producer.send({ topic: TOPIC, value: 'a', partition: 0 });
      await vi.waitFor(() => expect(fake.produceRequests).toBe(1), { timeout: 5_000 });
      const b = producer.send({ topic: TOPIC, value: 'b', partition: 0 }); // its own request
      expect((await a).offset).toBe(0);
      aAcked();
      expect((await b).offset).toBe(1);
      expect(fake.produced.filter((p) => p.batch.baseSequence === 1).length).toBe(2);
      expect(producer.idempotence).toMatchObject({ state: 'ready', producerId: 6 });
    });
  }

  it('fails with OutOfOrderSequenceError when every earlier batch was acknowledged, and continues with a new producer id', async () => {
    let pid = 20;
    let refuse = true;
    const { fake, producer } = await setup({
      initProducerId: () => ({ producerId: pid++, producerEpoch: 0 }),
      produce: (batch) => {
        if (batch.producerId === 20 && batch.baseSequence === 1 && refuse) return { code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
        return { code: 0, baseOffset: 0 };
      },
    });
    await producer.send({ topic: TOPIC, value: 'a', partition: 0 }); // sequence 0 acknowledged
    // The broker now claims a gap at sequence 1 although 0 was acked: it lost state. Not retriable.
    await expect(producer.send({ topic: TOPIC, value: 'b', partition: 0 })).rejects.toBeInstanceOf(OutOfOrderSequenceError);
    expect(fake.produced.filter((p) => p.batch.producerId === 20 && p.batch.baseSequence === 1)).toHaveLength(1);
    refuse = false;
    await producer.send({ topic: TOPIC, value: 'c', partition: 0 });
    const last = fake.produced.at(-1)!.batch;
    expect([last.producerId, last.baseSequence]).toEqual([21, 0]);
    expect(producer.idempotence).toMatchObject({ state: 'ready', producerId: 21 });
  });
});

describe('idempotent producer: in-flight bound', () => {
  it('keeps at most 5 unacknowledged batches of one partition on the wire (the broker dedupes only the last 5)', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { fake, producer } = await setup({
      initProducerId: () => ({ producerId: 3, producerEpoch: 0 }),
      produce: () => gate.then(() => ({ code: 0, baseOffset: 0 })),
    }, { 'batch.size': 1, 'max.in.flight.requests.per.connection': 5, 'request.timeout.ms': 30_000, 'delivery.timeout.ms': 60_000 });
    // batch.size 1: every record is its own batch; 20 of them are sendable at once.
    const sends = Array.from({ length: 20 }, (_, i) => producer.send({ topic: TOPIC, value: `v${i}`, partition: 0 }));
    await vi.waitFor(() => expect(fake.producedBatches.length).toBe(5), { timeout: 5_000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.producedBatches).toHaveLength(5);
    release();
    await Promise.all(sends);
    expect(fake.producedBatches.map((p) => p.batch.baseSequence)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

describe('idempotent producer: a new producer id keeps per-partition order', () => {
  it('sends no batch of the new id to a partition until that partition\'s batches of the old id are done', async () => {
    // 'a' (partition 0, id 40) is on the wire when partition 1 hits an unresolvable gap and producer
    // id 41 starts; 'a' is then refused (retriable). 'b', sent to partition 0 under id 41, must not
    // reach the broker before 'a' is done, or the retried 'a' would land after it.
    let pid = 40;
    let switched = false;
    let aRefused = false;
    const log: string[] = [];
    const { producer } = await setup({
      initProducerId: () => {
        if (pid > 40) switched = true;
        return { producerId: pid++, producerEpoch: 0 };
      },
      produce: async (batch) => {
        const value = Buffer.from(batch.records[0]?.value ?? []).toString();
        log.push(`${value}@${batch.producerId}`);
        if (value === 'd' && batch.producerId === 40) {
          await new Promise((r) => setTimeout(r, 200)); // 'a' goes out meanwhile, in its own request
          return { code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
        }
        if (value === 'a' && !aRefused) {
          aRefused = true;
          await vi.waitFor(() => expect(switched).toBe(true), { timeout: 5_000 });
          await new Promise((r) => setTimeout(r, 100)); // time for 'b' to go out, were it allowed
          return { code: ErrorCode.NOT_LEADER_OR_FOLLOWER };
        }
        return { code: 0, baseOffset: log.length };
      },
    }, { 'request.timeout.ms': 2_000, 'delivery.timeout.ms': 10_000 });
    await producer.send({ topic: TOPIC, value: 'c', partition: 1 });
    const d = producer.send({ topic: TOPIC, value: 'd', partition: 1 }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(log).toContain('d@40'), { timeout: 5_000 });
    const a = producer.send({ topic: TOPIC, value: 'a', partition: 0 });
    expect(await d).toBeInstanceOf(OutOfOrderSequenceError);
    await vi.waitFor(() => expect(switched).toBe(true), { timeout: 5_000 });
    const b = producer.send({ topic: TOPIC, value: 'b', partition: 0 });
    await a;
    await b;
    const firstB = log.findIndex((l) => l.startsWith('b@'));
    const lastA = log.map((l, i) => (l.startsWith('a@') ? i : -1)).filter((i) => i >= 0).at(-1)!;
    expect(log[firstB]).toBe('b@41');
    expect(firstB).toBeGreaterThan(lastA);
  });
});

describe('idempotence state transitions', () => {
  it('has one table: fenced is final, reachable from every other state; disabled and unsupported only end fenced', async () => {
    const { IDEMPOTENCE_TRANSITIONS } = await import('../src/producer.js');
    expect(IDEMPOTENCE_TRANSITIONS.fenced).toEqual([]);
    for (const [from, to] of Object.entries(IDEMPOTENCE_TRANSITIONS)) if (from !== 'fenced') expect(to).toContain('fenced');
    expect(IDEMPOTENCE_TRANSITIONS.disabled).toEqual(['fenced']);
    expect(IDEMPOTENCE_TRANSITIONS.unsupported).toEqual(['fenced']);
    expect(IDEMPOTENCE_TRANSITIONS.ready).not.toContain('initializing'); // a new id only after the old one is dropped
  });
});
