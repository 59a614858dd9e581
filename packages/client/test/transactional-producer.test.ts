// The transactional producer against a scripted broker that also plays the transaction coordinator
// and the group coordinator: the order of the protocol (InitProducerId, AddPartitionsToTxn before the
// first batch to a partition, transactional batches, EndTxn), the epoch answered by EndTxn, and
// Kafka's rules on fatal and abortable errors.
import { ErrorCode, TransactionsClient, tributary } from '@tributary/protocol';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  InvalidTxnStateError, Producer, ProducerFencedError, TransactionAbortableError, TransactionAbortedError, type ProducerOptions,
} from '../src/index.js';
import { startFakeBroker, type FakeBroker, type FakeBrokerScript } from './fake-broker.js';

const TOPIC = 'fake';
const TXN_ID = 'app-1';
let fake: FakeBroker | undefined;
let producer: Producer | undefined;

afterEach(async () => {
  await producer?.close({ timeoutMs: 0 });
  await fake?.close();
  producer = undefined;
  fake = undefined;
});

async function setup(script: Partial<FakeBrokerScript> = {}, options: ProducerOptions = {}): Promise<{ fake: FakeBroker; producer: Producer }> {
  fake = await startFakeBroker(TOPIC, 2, {
    initProducerId: () => ({ producerId: 7, producerEpoch: 3 }),
    txn: {},
    ...script,
  });
  producer = new Producer({
    'bootstrap.servers': fake.address, 'transactional.id': TXN_ID, 'linger.ms': 0, 'retry.backoff.ms': 5, 'retry.backoff.max.ms': 20,
    'request.timeout.ms': 1_000, 'delivery.timeout.ms': 5_000, 'max.block.ms': 5_000, ...options,
  });
  return { fake, producer };
}

const valueOf = (p: { batch: { records: readonly { value: Uint8Array | null }[] } }): string => Buffer.from(p.batch.records[0]?.value ?? []).toString();
const methods = (f: FakeBroker): string[] => f.txnCalls.map((c) => c.method);

describe('transactional producer: the protocol', () => {
  it('init → AddPartitionsToTxn before the first batch of each partition → transactional batches → EndTxn; the next transaction uses the answered epoch from sequence 0', async () => {
    let initRequest: tributary.v1.InitProducerIdRequest | undefined;
    const producedWhenAdded: number[] = [];
    const { fake, producer } = await setup({
      initProducerId: (r) => { initRequest = r; return { producerId: 7, producerEpoch: 3 }; },
      txn: { addPartitionsToTxn: (r) => {
        producedWhenAdded.push(fake!.produceRequests);
        return { topics: r.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((partition) => ({ partition, error: { code: 0 } })) })) };
      } },
    }, { 'transaction.timeout.ms': 12_345 });
    expect(producer.transactionState).toBe('UNINITIALIZED');
    await producer.initTransactions();
    expect(initRequest?.transactionalId).toBe(TXN_ID);
    expect(initRequest?.transactionTimeoutMs).toBe(12_345);
    expect(producer.idempotence).toEqual({ state: 'ready', producerId: 7, producerEpoch: 3 });
    const find = fake.txnCalls.find((c) => c.method === 'findCoordinator')!.request as tributary.v1.FindCoordinatorRequest;
    expect(find.keyType).toBe(tributary.v1.CoordinatorType.TRANSACTION);
    expect(find.groupId).toBe(TXN_ID);

    producer.beginTransaction();
    await producer.send({ topic: TOPIC, partition: 0, value: 'a' });
    await producer.send({ topic: TOPIC, partition: 1, value: 'b' });
    await producer.send({ topic: TOPIC, partition: 0, value: 'c' });
    await producer.commitTransaction();
    expect(producer.transactionState).toBe('READY');
    // Each partition added once, before any batch of it was sent.
    const adds = fake.txnCalls.filter((c) => c.method === 'addPartitionsToTxn').map((c) => c.request as tributary.v1.AddPartitionsToTxnRequest);
    expect(adds.flatMap((a) => a.topics.flatMap((t) => t.partitions)).sort()).toEqual([0, 1]);
    expect(adds.every((a) => a.transactionalId === TXN_ID && Number(a.producerId) === 7 && a.producerEpoch === 3 && !a.verifyOnly)).toBe(true);
    expect(producedWhenAdded[0]).toBe(0);
    expect(fake.produced.map(valueOf)).toEqual(['a', 'b', 'c']);
    for (const p of fake.produced) {
      expect(p.batch.transactional).toBe(true);
      expect(p.batch.control).toBe(false);
      expect([Number(p.batch.producerId), p.batch.producerEpoch]).toEqual([7, 3]);
    }
    expect(fake.produced.map((p) => p.batch.baseSequence)).toEqual([0, 0, 1]);
    expect(fake.produceTransactionalIds.every((id) => id === TXN_ID)).toBe(true);
    const end = fake.txnCalls.find((c) => c.method === 'endTxn')!.request as tributary.v1.EndTxnRequest;
    expect([end.committed, Number(end.producerId), end.producerEpoch]).toEqual([true, 7, 3]);
    // v2: EndTxn answered epoch 4; sequences restart.
    expect(producer.idempotence.producerEpoch).toBe(4);
    producer.beginTransaction();
    await producer.send({ topic: TOPIC, partition: 0, value: 'd' });
    await producer.commitTransaction();
    const last = fake.produced.at(-1)!.batch;
    expect([last.producerEpoch, last.baseSequence]).toEqual([4, 0]);
    // The new transaction added its partition again.
    expect(methods(fake).filter((m) => m === 'addPartitionsToTxn').length).toBeGreaterThanOrEqual(adds.length + 1);
  });

  it('refuses sends and transaction calls in the wrong state, with InvalidTxnStateError', async () => {
    const { producer } = await setup();
    await expect(producer.send({ topic: TOPIC, value: 'x' })).rejects.toBeInstanceOf(InvalidTxnStateError);
    expect(() => producer.beginTransaction()).toThrow(InvalidTxnStateError);
    await producer.initTransactions();
    await expect(producer.initTransactions()).rejects.toBeInstanceOf(InvalidTxnStateError);
    await expect(producer.send({ topic: TOPIC, value: 'x' })).rejects.toThrow(/beginTransaction/);
    await expect(producer.commitTransaction()).rejects.toBeInstanceOf(InvalidTxnStateError);
    await expect(producer.abortTransaction()).rejects.toBeInstanceOf(InvalidTxnStateError);
    producer.beginTransaction();
    expect(() => producer.beginTransaction()).toThrow(InvalidTxnStateError);
    // A transaction with nothing in it commits without asking the coordinator.
    await producer.commitTransaction();
    expect(methods(fake!)).not.toContain('endTxn');
    const plain = new Producer({ 'bootstrap.servers': fake!.address });
    await expect(plain.initTransactions()).rejects.toThrow(/no transactional\.id/);
    await plain.close();
  });

  it('retries CONCURRENT_TRANSACTIONS and finds the coordinator again after NOT_COORDINATOR', async () => {
    let adds = 0;
    const { fake, producer } = await setup({
      txn: { addPartitionsToTxn: (r) => {
        adds += 1;
        if (adds <= 2) return { error: { code: ErrorCode.CONCURRENT_TRANSACTIONS } };
        if (adds === 3) return { error: { code: ErrorCode.NOT_COORDINATOR } };
        return { topics: r.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((partition) => ({ partition, error: { code: 0 } })) })) };
      } },
    });
    await producer.initTransactions();
    const findsBefore = methods(fake).filter((m) => m === 'findCoordinator').length;
    producer.beginTransaction();
    await producer.send({ topic: TOPIC, partition: 0, value: 'a' });
    await producer.commitTransaction();
    expect(adds).toBe(4);
    expect(methods(fake).filter((m) => m === 'findCoordinator').length).toBe(findsBefore + 1);
    expect(fake.produced.map(valueOf)).toEqual(['a']);
  });
});

describe('transactional producer: an EndTxn that runs out of max.block.ms', () => {
  it('leaves the state COMMITTING; commitTransaction() again retries only EndTxn (never an abort), then READY', async () => {
    let concurrent = true;
    const { fake, producer } = await setup({
      txn: { endTxn: (r) => (concurrent ? { error: { code: ErrorCode.CONCURRENT_TRANSACTIONS } } : { producerId: r.producerId, producerEpoch: r.producerEpoch + 1, error: { code: 0 } }) },
    }, { 'max.block.ms': 200 });
    await producer.initTransactions();
    producer.beginTransaction();
    await producer.send({ topic: TOPIC, partition: 0, value: 'a' });
    await expect(producer.commitTransaction()).rejects.toMatchObject({ code: 'REQUEST_TIMED_OUT', retriable: true });
    expect(producer.transactionState).toBe('COMMITTING');
    const tries = methods(fake).filter((m) => m === 'endTxn').length;
    expect(tries).toBeGreaterThan(1); // CONCURRENT_TRANSACTIONS was retried
    await expect(producer.abortTransaction()).rejects.toBeInstanceOf(InvalidTxnStateError);
    concurrent = false;
    await producer.commitTransaction();
    expect(producer.transactionState).toBe('READY');
    expect(fake.txnCalls.filter((c) => c.method === 'endTxn').every((c) => (c.request as tributary.v1.EndTxnRequest).committed)).toBe(true);
    expect(fake.produced.map(valueOf)).toEqual(['a']);
    expect(producer.idempotence.producerEpoch).toBe(4);
  });
});

describe('transactional producer: abort', () => {
  it('fails queued records with TransactionAbortedError, waits for the one in flight, aborts; the producer is usable afterwards', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    let produceCalls = 0;
    const { fake, producer } = await setup({
      produce: () => { produceCalls += 1; return produceCalls === 1 ? gate.then(() => ({ code: 0, baseOffset: 0 })) : { code: 0, baseOffset: 1 }; },
    }, { 'max.in.flight.requests.per.connection': 1 });
    await producer.initTransactions();
    producer.beginTransaction();
    const inFlight = producer.send({ topic: TOPIC, partition: 0, value: 'a' });
    await vi.waitFor(() => expect(fake.produceRequests).toBe(1), { timeout: 5_000 });
    const queued = producer.send({ topic: TOPIC, partition: 1, value: 'b' }).catch((e: unknown) => e);
    const aborting = producer.abortTransaction();
    expect(await queued).toBeInstanceOf(TransactionAbortedError);
    expect(methods(fake)).not.toContain('endTxn'); // still waiting for the batch in flight
    release();
    await aborting;
    await expect(inFlight).resolves.toMatchObject({ partition: 0 });
    const end = fake.txnCalls.find((c) => c.method === 'endTxn')!.request as tributary.v1.EndTxnRequest;
    expect(end.committed).toBe(false);
    expect(producer.transactionState).toBe('READY');
    expect(fake.produced.map(valueOf)).toEqual(['a']);
    producer.beginTransaction();
    await producer.send({ topic: TOPIC, partition: 1, value: 'c' });
    await producer.commitTransaction();
    expect(fake.produced.map(valueOf)).toEqual(['a', 'c']);
  });

  it('a batch waits for AddPartitionsToTxn; an abort meanwhile fails it unsent, waits for the add, then ends the transaction', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { fake, producer } = await setup({
      txn: { addPartitionsToTxn: async (r) => {
        await gate;
        return { topics: r.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((partition) => ({ partition, error: { code: 0 } })) })) };
      } },
    });
    await producer.initTransactions();
    producer.beginTransaction();
    const waiting = producer.send({ topic: TOPIC, partition: 0, value: 'a' }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(methods(fake)).toContain('addPartitionsToTxn'), { timeout: 5_000 });
    const aborting = producer.abortTransaction();
    expect(await waiting).toBeInstanceOf(TransactionAbortedError);
    expect(methods(fake)).not.toContain('endTxn'); // the add's outcome is not known yet
    release();
    await aborting;
    expect(fake.produceRequests).toBe(0);
    expect((fake.txnCalls.find((c) => c.method === 'endTxn')!.request as tributary.v1.EndTxnRequest).committed).toBe(false);
    expect(producer.transactionState).toBe('READY');
  });

  it('an EndTxn answer without a valid producer id/epoch is refused (fatal), not adopted', async () => {
    const { producer } = await setup({ txn: { endTxn: () => ({ producerId: -1, producerEpoch: 0, error: { code: 0 } }) } });
    await producer.initTransactions();
    producer.beginTransaction();
    await producer.send({ topic: TOPIC, partition: 0, value: 'a' });
    await expect(producer.commitTransaction()).rejects.toThrow(/INVALID_RESPONSE|EndTxn answered producer id -1/);
    expect(producer.transactionState).toBe('FATAL_ERROR');
    expect(producer.idempotence.producerId).toBe(7);
  });

  it('a batch the broker refuses makes the transaction abortable: commit rejects, abort recovers', async () => {
    const { fake, producer } = await setup({
      produce: (batch) => (Buffer.from(batch.records[0]?.value ?? []).toString() === 'bad' ? { code: ErrorCode.INVALID_RECORD } : { code: 0, baseOffset: 0 }),
    });
    await producer.initTransactions();
    producer.beginTransaction();
    await producer.send({ topic: TOPIC, partition: 0, value: 'ok' });
    const failed = producer.send({ topic: TOPIC, partition: 0, value: 'bad' }).catch((e: unknown) => e);
    const commit = await producer.commitTransaction().catch((e: unknown) => e);
    expect(commit).toBeInstanceOf(TransactionAbortableError);
    expect(((await failed) as Error).message).toMatch(/INVALID_RECORD/);
    expect(producer.transactionState).toBe('ABORTABLE_ERROR');
    await expect(producer.send({ topic: TOPIC, partition: 0, value: 'later' })).rejects.toBeInstanceOf(TransactionAbortableError);
    expect(methods(fake)).not.toContain('endTxn');
    await producer.abortTransaction();
    expect((fake.txnCalls.find((c) => c.method === 'endTxn')!.request as tributary.v1.EndTxnRequest).committed).toBe(false);
    expect(producer.transactionState).toBe('READY');
  });

  it('INVALID_PRODUCER_EPOCH from a partition leader is abortable inside a transaction (KIP-588), not fatal', async () => {
    let first = true;
    const { producer } = await setup({
      produce: () => {
        if (!first) return { code: 0, baseOffset: 0 };
        first = false;
        return { code: ErrorCode.INVALID_PRODUCER_EPOCH };
      },
    });
    await producer.initTransactions();
    producer.beginTransaction();
    await expect(producer.send({ topic: TOPIC, partition: 0, value: 'a' })).rejects.toBeInstanceOf(ProducerFencedError);
    expect(producer.transactionState).toBe('ABORTABLE_ERROR');
    await producer.abortTransaction();
    producer.beginTransaction();
    await producer.send({ topic: TOPIC, partition: 0, value: 'b' });
    await producer.commitTransaction();
    expect(producer.idempotence.state).toBe('ready');
  });
});

describe('transactional producer: fencing is fatal', () => {
  it('PRODUCER_FENCED from EndTxn: commit and every later call reject with ProducerFencedError', async () => {
    const { fake, producer } = await setup({ txn: { endTxn: () => ({ error: { code: ErrorCode.PRODUCER_FENCED, message: 'newer epoch' } }) } });
    await producer.initTransactions();
    producer.beginTransaction();
    await producer.send({ topic: TOPIC, partition: 0, value: 'a' });
    await expect(producer.commitTransaction()).rejects.toBeInstanceOf(ProducerFencedError);
    expect(producer.transactionState).toBe('FATAL_ERROR');
    expect(producer.idempotence.state).toBe('fenced');
    await expect(producer.send({ topic: TOPIC, partition: 0, value: 'b' })).rejects.toBeInstanceOf(ProducerFencedError);
    expect(() => producer.beginTransaction()).toThrow(ProducerFencedError);
    await expect(producer.abortTransaction()).rejects.toBeInstanceOf(ProducerFencedError);
    expect(fake.produced.map(valueOf)).toEqual(['a']);
  });

  it('PRODUCER_FENCED on a produce fails the transaction\'s queued records and the producer', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { fake, producer } = await setup({ produce: () => gate.then(() => ({ code: ErrorCode.PRODUCER_FENCED })) }, { 'max.in.flight.requests.per.connection': 1 });
    await producer.initTransactions();
    producer.beginTransaction();
    const first = producer.send({ topic: TOPIC, partition: 0, value: 'a' }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(fake.produceRequests).toBe(1), { timeout: 5_000 });
    const queued = producer.send({ topic: TOPIC, partition: 1, value: 'b' }).catch((e: unknown) => e);
    release();
    expect(await first).toBeInstanceOf(ProducerFencedError);
    expect(await queued).toBeInstanceOf(ProducerFencedError);
    expect(fake.produced.map(valueOf)).toEqual(['a']);
    expect(producer.transactionState).toBe('FATAL_ERROR');
    await expect(producer.commitTransaction()).rejects.toBeInstanceOf(ProducerFencedError);
  });

  it('InitProducerId refused (INVALID_TRANSACTION_TIMEOUT) is fatal; a coordinator that never answers times out and init may be retried', async () => {
    const { producer } = await setup({ initProducerId: () => ({ code: ErrorCode.INVALID_TRANSACTION_TIMEOUT }) });
    await expect(producer.initTransactions()).rejects.toThrow(/INVALID_TRANSACTION_TIMEOUT/);
    expect(producer.transactionState).toBe('FATAL_ERROR');
    await producer.close({ timeoutMs: 0 });
    await fake!.close();
    let answers = 0;
    const second = await setup({
      initProducerId: () => (++answers <= 1000 ? { code: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS } : { producerId: 1, producerEpoch: 0 }),
    }, { 'max.block.ms': 300 });
    await expect(second.producer.initTransactions()).rejects.toMatchObject({ code: 'REQUEST_TIMED_OUT', retriable: true });
    expect(second.producer.transactionState).toBe('UNINITIALIZED');
    answers = 1000;
    await second.producer.initTransactions();
    expect(second.producer.transactionState).toBe('READY');
  });
});

describe('sendOffsetsToTransaction', () => {
  const group = { groupId: 'g', generationId: 5, memberId: 'm-1', groupInstanceId: null };

  it('AddOffsetsToTxn, then TxnOffsetCommit with the producer id/epoch and the member\'s generation', async () => {
    const { fake, producer } = await setup();
    await producer.initTransactions();
    producer.beginTransaction();
    await producer.sendOffsetsToTransaction([{ topic: 'in', partition: 2, offset: 42 }], group);
    await producer.commitTransaction();
    expect(methods(fake).filter((m) => m !== 'findCoordinator')).toEqual(['addOffsetsToTxn', 'txnOffsetCommit', 'endTxn']);
    const commit = fake.txnCalls.find((c) => c.method === 'txnOffsetCommit')!.request as tributary.v1.TxnOffsetCommitRequest;
    expect([commit.transactionalId, commit.groupId, Number(commit.producerId), commit.producerEpoch, commit.generationId, commit.memberId]).toEqual([TXN_ID, 'g', 7, 3, 5, 'm-1']);
    expect(commit.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, Number(p.committedOffset)])])).toEqual([['in', [[2, 42]]]]);
  });

  it('commitTransaction waits for an offset commit still in flight before EndTxn', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { fake, producer } = await setup({ txn: { txnOffsetCommit: async (r) => {
      await gate;
      return { topics: r.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, error: { code: 0 } })) })) };
    } } });
    await producer.initTransactions();
    producer.beginTransaction();
    const offsets = producer.sendOffsetsToTransaction([{ topic: 'in', partition: 0, offset: 9 }], group);
    await vi.waitFor(() => expect(methods(fake)).toContain('txnOffsetCommit'), { timeout: 5_000 });
    // EndTxn is seen where the client makes the call, not where the fake receives it (after network I/O).
    const endTxnCalls = vi.spyOn(TransactionsClient.prototype, 'endTxn');
    onTestFinished(() => endTxnCalls.mockRestore());
    const commit = producer.commitTransaction();
    // Nothing is queued and the coordinator is known: up to the EndTxn call, commitTransaction is promise
    // continuations only, all run before setImmediate's callback. So had it not waited for the offset
    // commit, the call would have been made by then.
    await new Promise((resolve) => setImmediate(resolve));
    expect(producer.transactionState).toBe('COMMITTING');
    expect(endTxnCalls).not.toHaveBeenCalled();
    expect(methods(fake)).not.toContain('endTxn');
    release();
    await offsets;
    await commit;
    expect(endTxnCalls).toHaveBeenCalledTimes(1);
    expect(methods(fake).filter((m) => m !== 'findCoordinator')).toEqual(['addOffsetsToTxn', 'txnOffsetCommit', 'endTxn']);
  });

  it('a zombie member (ILLEGAL_GENERATION) makes the transaction abortable', async () => {
    const { producer } = await setup({ txn: { txnOffsetCommit: (r) => ({ topics: r.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, error: { code: ErrorCode.ILLEGAL_GENERATION } })) })) }) } });
    await producer.initTransactions();
    producer.beginTransaction();
    await expect(producer.sendOffsetsToTransaction([{ topic: 'in', partition: 0, offset: 1 }], group)).rejects.toBeInstanceOf(TransactionAbortableError);
    expect(producer.transactionState).toBe('ABORTABLE_ERROR');
    await producer.abortTransaction();
    expect(producer.transactionState).toBe('READY');
  });
});

describe('producer.transaction(body)', () => {
  it('commits and returns the body\'s value; aborts and rethrows on failure; one at a time; tx is dead afterwards', async () => {
    const { fake, producer } = await setup();
    await producer.initTransactions();
    let escaped: Parameters<Parameters<Producer['transaction']>[0]>[0] | undefined;
    const value = await producer.transaction(async (tx) => {
      escaped = tx;
      await tx.send({ topic: TOPIC, partition: 0, value: 'a' });
      return 17;
    });
    expect(value).toBe(17);
    expect((fake.txnCalls.filter((c) => c.method === 'endTxn').at(-1)!.request as tributary.v1.EndTxnRequest).committed).toBe(true);
    await expect(escaped!.send({ topic: TOPIC, value: 'late' })).rejects.toBeInstanceOf(InvalidTxnStateError);

    const boom = new Error('boom');
    await expect(producer.transaction(async (tx) => {
      await tx.send({ topic: TOPIC, partition: 1, value: 'b' });
      throw boom;
    })).rejects.toBe(boom);
    expect((fake.txnCalls.filter((c) => c.method === 'endTxn').at(-1)!.request as tributary.v1.EndTxnRequest).committed).toBe(false);
    expect(producer.transactionState).toBe('READY');

    let release: () => void = () => undefined;
    const hold = new Promise<void>((resolve) => { release = resolve; });
    const first = producer.transaction(() => hold);
    await expect(producer.transaction(async () => undefined)).rejects.toThrow(/one at a time/);
    release();
    await first;
    expect(producer.transactionState).toBe('READY');
  });
});
