// The partition leader's side of transactions on a Partition over the memory log: admission of
// transactional batches (transactional id, verification through the TxnVerifier, the verification guard
// against a marker that lands while the coordinator is being asked), markers (fencing, epoch bump),
// the last stable offset, the aborted index, read_committed fetch and ListOffsets, recovery, snapshots,
// followers, truncation and producer expiry.
import { describe, expect, it } from 'vitest';
import { decodeRecordBatches, encodeRecordBatch, tributary } from '@tributary/protocol';
import { MemoryPartitionLog, parseNodeConfig, resolveTopicConfig } from '../src/index.js';
import { ChangeNotifier, listOffset, Partition, readPartitions, replicationConfig, type ReplicaManager } from '../src/internal.js';
import { InMemoryProducerStateStore } from '../src/replication/producer-state-store.js';
import { encodeFetchResults } from '../src/broker-service.js';
import { ReadCommittedFilter } from '../src/read-committed.js';
import type { TxnVerifier, TxnVerifyInput } from '../src/transactions/txn-ports.js';
import type { ErrorCodeName } from '../src/errors.js';
import { silentLogger } from './helpers.js';

const broker = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/unused' } });
const config = resolveTopicConfig({}, broker);
const TXN_ID = 'tx-1';

interface Setup {
  readonly partition: Partition;
  readonly log: MemoryPartitionLog;
  readonly verifies: TxnVerifyInput[];
}

function setup(args: {
  verifier?: TxnVerifier | 'none'; log?: MemoryPartitionLog; store?: InMemoryProducerStateStore; leader?: number; nowMs?: () => number; expirationMs?: number;
  txnVerificationTimeoutMs?: number;
} = {}): Setup {
  const verifies: TxnVerifyInput[] = [];
  const verifier: TxnVerifier | undefined = args.verifier === 'none' ? undefined : args.verifier ?? { verify: async (input) => { verifies.push(input); return undefined; } };
  const log = args.log ?? new MemoryPartitionLog(config);
  const info = { topic: 't', topicId: 'id', partition: 0, leader: args.leader ?? 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1], isr: [1] };
  const partition = new Partition({
    nodeId: 1, info, config, log, logger: silentLogger, onHighWatermarkChange: () => undefined,
    producerIds: { allocatedEnd: () => 1000, producersMax: 10_000, expirationMs: args.expirationMs ?? 24 * 3600 * 1000, nowMs: args.nowMs ?? (() => 0) },
    ...(verifier === undefined ? {} : { txnVerifier: verifier }),
    ...(args.store === undefined ? {} : { producerStateStore: args.store }),
    ...(args.txnVerificationTimeoutMs === undefined ? {} : { txnVerificationTimeoutMs: args.txnVerificationTimeoutMs }),
  });
  return { partition, log, verifies };
}

const txnBatch = (producerId: number, producerEpoch: number, baseSequence: number, values: readonly string[]): Buffer => encodeRecordBatch({
  producerId, producerEpoch, baseSequence, transactional: true, records: values.map((v) => ({ value: Buffer.from(v), timestamp: 1_000 })),
});
const plainBatch = (values: readonly string[], producerId = -1, baseSequence = -1): Buffer => encodeRecordBatch({
  producerId, producerEpoch: producerId < 0 ? -1 : 0, baseSequence, records: values.map((v) => ({ value: Buffer.from(v), timestamp: 1_000 })),
});
const appendTxn = (p: Partition, batch: Buffer, transactionalId: string | undefined = TXN_ID) =>
  p.appendAsLeader(batch, { requiredAcks: 1, nowMs: 0, ...(transactionalId === undefined ? {} : { transactionalId }) });
const mark = (p: Partition, producerId: number, producerEpoch: number, committed: boolean, coordinatorEpoch = 0) =>
  p.writeTxnMarker({ producerId, producerEpoch, committed, coordinatorEpoch }, { nowMs: 2_000 });

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  return { promise: new Promise<T>((r) => (resolve = r)), resolve };
}

/**
 * Resolves once every queued promise continuation has run (setImmediate runs after the microtask
 * queue is empty). The partition over the memory log does no I/O and sets no timer on these paths, so
 * whatever can happen without a test's release has happened by then: an ordering barrier, not a delay.
 */
const continuationsRun = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A ReplicaManager with one hosted partition, enough for fetch.ts. */
function replicasOf(partition: Partition): ReplicaManager {
  return { getPartition: () => partition, findPartition: () => partition } as unknown as ReplicaManager;
}

async function readCommitted(partition: Partition, fetchOffset: number, isolation: 'read_committed' | 'read_uncommitted' = 'read_committed') {
  const input = { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolation, partitions: [{ topic: 't', partition: 0, fetchOffset, partitionMaxBytes: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] } as const;
  const { results } = await readPartitions(input, { replicas: replicasOf(partition), notifier: new ChangeNotifier(), nowMs: () => 0 });
  return { input, result: results[0]! };
}

describe('transactional produce: admission', () => {
  it('needs the request\'s transactional id, and a verifier to ask', async () => {
    const { partition } = setup();
    await expect(appendTxn(partition, txnBatch(7, 0, 0, ['a']), '')).rejects.toMatchObject({ code: 'INVALID_TXN_STATE', message: expect.stringContaining('without a transactional_id') });
    const none = setup({ verifier: 'none' });
    await expect(appendTxn(none.partition, txnBatch(7, 0, 0, ['a']))).rejects.toMatchObject({ code: 'INVALID_TXN_STATE', message: expect.stringContaining('no transaction coordinator') });
    expect([partition.logEndOffset, none.partition.logEndOffset]).toEqual([0, 0]);
  });

  it('verifies the first transactional batch of a producer epoch only, with the batch\'s identity', async () => {
    const { partition, verifies } = setup();
    await appendTxn(partition, txnBatch(7, 3, 0, ['a']));
    await appendTxn(partition, txnBatch(7, 3, 1, ['b']));
    expect(verifies).toEqual([{ transactionalId: TXN_ID, producerId: 7, producerEpoch: 3, topic: 't', partition: 0 }]);
    await mark(partition, 7, 4, true);
    await appendTxn(partition, txnBatch(7, 4, 0, ['c']));
    expect(verifies.map((v) => v.producerEpoch)).toEqual([3, 4]);
  });

  it('answers the verifier\'s refusal and appends nothing; a later batch asks again', async () => {
    let answer: ErrorCodeName | undefined = 'CONCURRENT_TRANSACTIONS';
    let calls = 0;
    const { partition } = setup({ verifier: { verify: async () => { calls += 1; return answer; } } });
    await expect(appendTxn(partition, txnBatch(7, 0, 0, ['a']))).rejects.toMatchObject({ code: 'CONCURRENT_TRANSACTIONS' });
    expect(partition.logEndOffset).toBe(0);
    answer = undefined;
    await appendTxn(partition, txnBatch(7, 0, 0, ['a']));
    expect([calls, partition.logEndOffset]).toEqual([2, 1]);
  });

  it('a verifier that never answers is cut off after txnVerificationTimeoutMs (COORDINATOR_NOT_AVAILABLE)', async () => {
    const { partition } = setup({ verifier: { verify: () => new Promise(() => undefined) }, txnVerificationTimeoutMs: 30 });
    await expect(appendTxn(partition, txnBatch(7, 0, 0, ['a']))).rejects.toMatchObject({ code: 'COORDINATOR_NOT_AVAILABLE', message: expect.stringContaining('within 30 ms') });
    expect(partition.logEndOffset).toBe(0);
  });

  it('refuses a non-transactional batch of a producer with an open transaction, and mixed batches', async () => {
    const { partition } = setup();
    await appendTxn(partition, txnBatch(7, 0, 0, ['a']));
    await expect(partition.appendAsLeader(plainBatch(['b'], 7, 1), { requiredAcks: 1, nowMs: 0 })).rejects.toMatchObject({ code: 'INVALID_TXN_STATE' });
    const mixed = Buffer.concat([txnBatch(8, 0, 0, ['x']), plainBatch(['y'])]);
    await expect(appendTxn(partition, mixed)).rejects.toMatchObject({ code: 'INVALID_RECORD' });
    expect(partition.logEndOffset).toBe(1);
  });

  it('after a marker (epoch bump) a late batch of the old epoch is refused, and the new epoch starts at sequence 0', async () => {
    const { partition } = setup();
    await appendTxn(partition, txnBatch(7, 0, 0, ['a']));
    await mark(partition, 7, 1, false);
    await expect(appendTxn(partition, txnBatch(7, 0, 1, ['late']))).rejects.toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
    await expect(appendTxn(partition, txnBatch(7, 1, 3, ['gap']))).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    await appendTxn(partition, txnBatch(7, 1, 0, ['next']));
    expect(partition.logEndOffset).toBe(3);
  });

  it('coordinator-written batches: sequence -1, no verification, epoch fencing and open-transaction tracking apply', async () => {
    const { partition, verifies } = setup({ verifier: 'none' });
    const offsets = encodeRecordBatch({ producerId: 5, producerEpoch: 2, baseSequence: -1, transactional: true, records: [{ key: Buffer.from('g'), value: Buffer.from('o'), timestamp: 1 }] });
    await partition.appendAsLeader(offsets, { requiredAcks: 1, nowMs: 0, origin: 'coordinator' });
    expect(verifies).toEqual([]);
    expect(partition.lastStableOffset).toBe(0);
    const old = encodeRecordBatch({ producerId: 5, producerEpoch: 1, baseSequence: -1, transactional: true, records: [{ value: Buffer.from('o'), timestamp: 1 }] });
    await expect(partition.appendAsLeader(old, { requiredAcks: 1, nowMs: 0, origin: 'coordinator' })).rejects.toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
    await expect(partition.appendAsLeader(plainBatch(['x']), { requiredAcks: 1, nowMs: 0, origin: 'coordinator' })).rejects.toMatchObject({ code: 'INVALID_RECORD' });
    await mark(partition, 5, 3, true);
    expect(partition.lastStableOffset).toBe(2);
  });
});

describe('the verification guard', () => {
  it('a batch verified before a marker is refused, not appended after it (Kafka\'s VerificationGuard)', async () => {
    const answer = deferred<ErrorCodeName | undefined>();
    const { partition, log } = setup({ verifier: { verify: () => answer.promise } });
    const produce = appendTxn(partition, txnBatch(7, 0, 0, ['stale']));
    // While the coordinator is being asked, the transaction is aborted (an operator's AbortTransaction
    // at the same epoch) and its marker written.
    await mark(partition, 7, 0, false);
    answer.resolve(undefined); // the coordinator had said yes before the abort
    await expect(produce).rejects.toMatchObject({ code: 'INVALID_TXN_STATE', message: expect.stringContaining('while its batch was being verified') });
    const stored = decodeRecordBatches((await log.read(0, 1 << 20, { maxOffset: log.logEndOffset, minOneBatch: true })).records);
    expect(stored.map((b) => b.control)).toEqual([true]);
    expect(partition.lastStableOffset).toBe(partition.highWatermark); // no transaction left hanging
  });

  it('the guard is cleared when the marker is accepted, not when it is recorded: an answer landing in between is refused too', async () => {
    const answer = deferred<ErrorCodeName | undefined>();
    const slowAppend = deferred<void>();
    // The marker's append takes its offset at once but finishes (and so is recorded) only when released.
    // A data batch reaching the log means the answer was handled and the batch admitted (the bug).
    const dataReachedLog = deferred<void>();
    class SlowLog extends MemoryPartitionLog {
      override async appendAsLeader(...args: Parameters<MemoryPartitionLog['appendAsLeader']>): ReturnType<MemoryPartitionLog['appendAsLeader']> {
        if (!args[1][0]!.control) dataReachedLog.resolve();
        const result = super.appendAsLeader(...args);
        await slowAppend.promise;
        return result;
      }
    }
    const { partition, log } = setup({ verifier: { verify: () => answer.promise }, log: new SlowLog(config) });
    const produce = appendTxn(partition, txnBatch(7, 0, 0, ['stale'])).then(() => undefined, (err: unknown) => err);
    const marker = mark(partition, 7, 0, false); // accepted and being appended, not yet recorded
    answer.resolve(undefined);
    // The verification's answer is handled while the marker is unrecorded: the produce is refused then
    // (it needs nothing from the log), or its batch goes to the log; either ends this wait.
    await Promise.race([produce, dataReachedLog.promise]);
    expect(log.logEndOffset).toBe(1); // the marker's append is still held: only its offset is taken
    slowAppend.resolve();
    await marker;
    expect(await produce).toMatchObject({ code: 'INVALID_TXN_STATE' });
    expect(log.logEndOffset).toBe(1);
    expect(partition.lastStableOffset).toBe(partition.highWatermark);
  });

  it('verification belongs to a leadership: lost meanwhile → NOT_LEADER_OR_FOLLOWER; a new leadership asks again', async () => {
    let answer = deferred<ErrorCodeName | undefined>();
    let calls = 0;
    const info = { topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2], isr: [1] };
    const partition = new Partition({
      nodeId: 1, info, config, log: new MemoryPartitionLog(config), logger: silentLogger, onHighWatermarkChange: () => undefined,
      producerIds: { allocatedEnd: () => 1000, producersMax: 100, expirationMs: 1e9, nowMs: () => 0 },
      txnVerifier: { verify: () => { calls += 1; return answer.promise; } },
      replication: { alterPartition: { alterPartition: () => new Promise(() => undefined) }, brokerEpoch: () => 1, config: replicationConfig(broker), isEligible: () => true, nowMs: Date.now },
    });
    partition.updateInfo(info);
    const produce = appendTxn(partition, txnBatch(7, 0, 0, ['a']));
    partition.updateInfo({ ...info, leader: 2, leaderEpoch: 1 });
    answer.resolve(undefined);
    await expect(produce).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
    expect(partition.logEndOffset).toBe(0);
    partition.updateInfo({ ...info, leader: 1, leaderEpoch: 2 });
    answer = deferred();
    const again = appendTxn(partition, txnBatch(7, 0, 0, ['a']));
    answer.resolve(undefined);
    await again;
    expect(calls).toBe(2);
  });

  it('pipelined batches of one producer wait for the same verification and keep their arrival order', async () => {
    const answer = deferred<ErrorCodeName | undefined>();
    let calls = 0;
    const { partition } = setup({ verifier: { verify: () => { calls += 1; return answer.promise; } } });
    const first = appendTxn(partition, txnBatch(7, 0, 0, ['a', 'b']));
    const second = appendTxn(partition, txnBatch(7, 0, 2, ['c']));
    const third = appendTxn(partition, txnBatch(7, 0, 3, ['d']));
    answer.resolve(undefined);
    const offsets = (await Promise.all([first, second, third])).map((r) => r.firstOffset);
    expect(offsets).toEqual([0, 2, 3]);
    expect(calls).toBe(1);
  });

  it('a refusal reaches every batch waiting on that verification', async () => {
    const answer = deferred<ErrorCodeName | undefined>();
    const { partition } = setup({ verifier: { verify: () => answer.promise } });
    const first = appendTxn(partition, txnBatch(7, 0, 0, ['a']));
    const second = appendTxn(partition, txnBatch(7, 0, 1, ['b']));
    answer.resolve('INVALID_TXN_STATE');
    await expect(first).rejects.toMatchObject({ code: 'INVALID_TXN_STATE' });
    await expect(second).rejects.toMatchObject({ code: 'INVALID_TXN_STATE' });
    expect(partition.logEndOffset).toBe(0);
  });
});

describe('markers', () => {
  it('are recorded in log order after data appended before them, however the appends finish', async () => {
    const slowData = deferred<void>();
    let slow = false;
    const markerAppended = deferred<void>();
    class SlowDataLog extends MemoryPartitionLog {
      override async appendAsLeader(...args: Parameters<MemoryPartitionLog['appendAsLeader']>): ReturnType<MemoryPartitionLog['appendAsLeader']> {
        const result = await super.appendAsLeader(...args);
        if (slow && !args[1][0]!.control) await slowData.promise;
        if (args[1][0]!.control) markerAppended.resolve();
        return result;
      }
    }
    const { partition } = setup({ log: new SlowDataLog(config) });
    await appendTxn(partition, txnBatch(7, 0, 0, ['a']));
    slow = true;
    const first = appendTxn(partition, txnBatch(7, 0, 1, ['b'])); // in the open transaction: no verification, appended at once
    const marker = mark(partition, 7, 1, true); // its append finishes first
    await markerAppended.promise;
    await continuationsRun(); // the marker has gone as far as it can while the data's append is held
    expect(partition.describeProducers()[0]).toMatchObject({ producerEpoch: 0, currentTxnStartOffset: 0 }); // not recorded before the data
    slowData.resolve();
    await Promise.all([first, marker]);
    expect(partition.describeProducers()[0]).toMatchObject({ producerEpoch: 1, currentTxnStartOffset: -1 });
    expect(partition.lastStableOffset).toBe(3);
  });

  it('fence an older coordinator epoch and an older producer epoch; are written for a producer with nothing open', async () => {
    const { partition } = setup();
    await appendTxn(partition, txnBatch(7, 2, 0, ['a']));
    await mark(partition, 7, 3, true, 5);
    await expect(mark(partition, 7, 3, true, 4)).rejects.toMatchObject({ code: 'TRANSACTION_COORDINATOR_FENCED' });
    await expect(mark(partition, 7, 2, true, 5)).rejects.toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
    expect((await mark(partition, 9, 0, false, 0)).offset).toBe(2);
    await expect(mark(partition, -1, 0, true)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(mark(partition, 7, 40_000, true, 5)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('are written by the leader only', async () => {
    const { partition } = setup({ leader: 2 });
    await expect(mark(partition, 7, 0, true)).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
  });
});

describe('last stable offset and read_committed', () => {
  it('an open transaction holds the LSO; COMMIT releases it; read_committed reads below it only', async () => {
    const { partition } = setup();
    await partition.appendAsLeader(plainBatch(['p0', 'p1']), { requiredAcks: 1, nowMs: 0 });
    await appendTxn(partition, txnBatch(7, 0, 0, ['t0', 't1']));
    await partition.appendAsLeader(plainBatch(['p4']), { requiredAcks: 1, nowMs: 0 });
    expect([partition.highWatermark, partition.lastStableOffset]).toEqual([5, 2]);
    const held = await readCommitted(partition, 0);
    expect(held.result.lastStableOffset).toBe(2);
    expect(decodeRecordBatches(held.result.bytes).map((b) => b.lastOffset)).toEqual([1]);
    expect((await readCommitted(partition, 2)).result.bytes.length).toBe(0);
    expect((await listOffset(partition, 'LATEST', 0, 'read_committed')).offset).toBe(2);
    expect((await listOffset(partition, 'LATEST', 0, 'read_uncommitted')).offset).toBe(5);
    const late = setup();
    await late.partition.appendAsLeader(plainBatch(['p']), { requiredAcks: 1, nowMs: 0 });
    await appendTxn(late.partition, encodeRecordBatch({ producerId: 7, producerEpoch: 0, baseSequence: 0, transactional: true, records: [{ value: Buffer.from('t'), timestamp: 5_000 }] }));
    expect((await listOffset(late.partition, 'TIMESTAMP', 5_000, 'read_committed')).offset).toBe(-1); // only in the open transaction
    expect((await listOffset(late.partition, 'TIMESTAMP', 5_000, 'read_uncommitted')).offset).toBe(1);
    expect((await listOffset(late.partition, 'MAX_TIMESTAMP', 0, 'read_committed')).offset).toBe(-1);
    await mark(partition, 7, 1, true);
    expect([partition.highWatermark, partition.lastStableOffset]).toEqual([6, 6]);
    const after = await readCommitted(partition, 2);
    expect(after.result.abortedTransactions).toEqual([]);
    const records = encodeFetchResults(after.input, [after.result], tributary.v1.RecordFormat.RECORDS).topics?.[0]?.partitions?.[0]?.records ?? [];
    expect(records.map((r) => Buffer.from(r.value!).toString())).toEqual(['t0', 't1', 'p4']); // the COMMIT marker is no record
  });

  it('ABORT indexes the transaction; read_committed gets it in aborted_transactions and RECORDS drops its records', async () => {
    const { partition, log } = setup();
    await appendTxn(partition, txnBatch(7, 0, 0, ['x0', 'x1']));
    await appendTxn(partition, txnBatch(8, 0, 0, ['y0']), 'tx-2');
    await partition.appendAsLeader(plainBatch(['p3']), { requiredAcks: 1, nowMs: 0 });
    await mark(partition, 7, 1, false, 2);
    expect(partition.lastStableOffset).toBe(2); // producer 8 still open at offset 2
    expect(await log.abortedTransactions(0, 100)).toEqual([{ producerId: 7, firstOffset: 0, lastOffset: 4, lastStableOffset: 2 }]);
    await mark(partition, 8, 1, true, 2);
    expect(partition.lastStableOffset).toBe(6);
    const { input, result } = await readCommitted(partition, 0);
    expect(result.abortedTransactions).toEqual([{ producerId: 7, firstOffset: 0 }]);
    const wire = encodeFetchResults(input, [result], tributary.v1.RecordFormat.RECORDS).topics?.[0]?.partitions?.[0];
    expect(wire?.abortedTransactions).toEqual([{ producerId: 7, firstOffset: 0 }]);
    expect(wire?.records?.map((r) => Buffer.from(r.value!).toString())).toEqual(['y0', 'p3']);
    // read_uncommitted sees aborted data but no control record, and no aborted list.
    const raw = await readCommitted(partition, 0, 'read_uncommitted');
    expect(raw.result.abortedTransactions).toBeUndefined();
    const uncommitted = encodeFetchResults(raw.input, [raw.result], tributary.v1.RecordFormat.RECORDS).topics?.[0]?.partitions?.[0]?.records ?? [];
    expect(uncommitted.map((r) => Buffer.from(r.value!).toString())).toEqual(['x0', 'x1', 'y0', 'p3']);
    // A fetch from past the aborted transaction does not get it.
    expect((await readCommitted(partition, 5)).result.abortedTransactions).toEqual([]);
  });

  it('a marker counts for the LSO only once the high watermark passes it', async () => {
    const info = { topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2], isr: [1, 2] };
    const log = new MemoryPartitionLog(config);
    const partition = new Partition({
      nodeId: 1, info, config, log, logger: silentLogger, onHighWatermarkChange: () => undefined,
      producerIds: { allocatedEnd: () => 1000, producersMax: 100, expirationMs: 1e9, nowMs: () => 0 },
      txnVerifier: { verify: async () => undefined },
    });
    await appendTxn(partition, txnBatch(7, 0, 0, ['a', 'b']));
    partition.updateFollowerLogEndOffset(2, 2);
    expect(partition.lastStableOffset).toBe(0);
    await mark(partition, 7, 1, true);
    expect([partition.highWatermark, partition.lastStableOffset]).toEqual([2, 0]); // marker at 2 not replicated yet
    partition.updateFollowerLogEndOffset(2, 3);
    expect(partition.lastStableOffset).toBe(3);
  });

  it('an ABORT is indexed before its transaction stops holding the LSO (no reader finds aborted data below it unindexed)', async () => {
    const indexing = deferred<void>();
    const indexingStarted = deferred<void>();
    class SlowIndexLog extends MemoryPartitionLog {
      override async appendAbortedTxn(...args: Parameters<MemoryPartitionLog['appendAbortedTxn']>): Promise<void> {
        indexingStarted.resolve();
        await indexing.promise;
        return super.appendAbortedTxn(...args);
      }
    }
    const info = { topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2], isr: [1, 2] };
    const log = new SlowIndexLog(config);
    let wakeUps = 0;
    const partition = new Partition({
      nodeId: 1, info, config, log, logger: silentLogger, onHighWatermarkChange: () => { wakeUps += 1; },
      producerIds: { allocatedEnd: () => 1000, producersMax: 100, expirationMs: 1e9, nowMs: () => 0 }, txnVerifier: { verify: async () => undefined },
    });
    await appendTxn(partition, txnBatch(7, 0, 0, ['a', 'b']));
    const marker = mark(partition, 7, 1, false);
    // The marker is in the log and its ABORT is being indexed (or, wrongly, the marker finished without that).
    await Promise.race([indexingStarted.promise, marker]);
    expect(log.logEndOffset).toBe(3);
    partition.updateFollowerLogEndOffset(2, 3); // the follower already has the marker
    expect([partition.highWatermark, partition.lastStableOffset]).toEqual([3, 0]);
    expect((await readCommitted(partition, 0)).result.bytes.length).toBe(0);
    const before = wakeUps;
    indexing.resolve();
    await marker;
    expect(partition.lastStableOffset).toBe(3);
    expect(wakeUps).toBeGreaterThan(before); // parked read_committed fetches re-check: the LSO moved without the HW
    expect((await readCommitted(partition, 0)).result.abortedTransactions).toEqual([{ producerId: 7, firstOffset: 0 }]);
  });

  it('the read_committed filter follows Kafka: a producer is aborted from its first offset up to its ABORT marker', () => {
    const filter = new ReadCommittedFilter([{ producerId: 7, firstOffset: 2 }]);
    const b = (producerId: number, lastOffset: number, transactional = true, control = false) => ({ producerId, lastOffset, transactional, control });
    expect(filter.accept(b(7, 1), () => false)).toBe(true); // before its aborted transaction
    expect(filter.accept(b(7, 3), () => false)).toBe(false);
    expect(filter.accept(b(8, 4), () => false)).toBe(true);
    expect(filter.accept(b(7, 5, true, true), () => true)).toBe(false); // the ABORT marker
    expect(filter.accept(b(7, 6), () => false)).toBe(true); // its next transaction
  });
});

describe('producer state across restarts, followers and truncation', () => {
  async function transactions(partition: Partition): Promise<void> {
    await appendTxn(partition, txnBatch(7, 0, 0, ['a']));
    await mark(partition, 7, 1, false, 1);
    await appendTxn(partition, txnBatch(8, 0, 0, ['b']), 'tx-2');
    await appendTxn(partition, txnBatch(7, 1, 0, ['c']));
  }

  it('a recovery scan rebuilds open transactions and does not index an aborted one twice', async () => {
    const first = setup();
    await transactions(first.partition);
    expect(first.partition.lastStableOffset).toBe(2);
    const reopened = setup({ log: first.log });
    await reopened.partition.loadProducerState();
    expect(reopened.partition.lastStableOffset).toBe(2);
    expect(await first.log.abortedTransactions(0, 100)).toHaveLength(1);
    expect(reopened.partition.describeProducers().map((p) => [p.producerId, p.producerEpoch, p.coordinatorEpoch, p.currentTxnStartOffset])).toEqual([[8, 0, -1, 2], [7, 1, 1, 3]]);
    // The rebuilt state fences like the original: the aborted epoch's late batch is refused.
    await expect(appendTxn(reopened.partition, txnBatch(7, 0, 1, ['late']))).rejects.toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
  });

  it('a snapshot keeps open transactions across a clean restart', async () => {
    const store = new InMemoryProducerStateStore();
    const first = setup({ store });
    await transactions(first.partition);
    await first.partition.writeProducerSnapshot();
    const reopened = setup({ log: first.log, store });
    expect((await reopened.partition.loadProducerState()).snapshotOffset).toBe(4);
    expect(reopened.partition.lastStableOffset).toBe(2);
    await mark(reopened.partition, 8, 1, true, 1);
    await mark(reopened.partition, 7, 2, true, 1);
    expect(reopened.partition.lastStableOffset).toBe(reopened.partition.highWatermark);
  });

  it('a follower tracks transactions and indexes aborted ones; as the new leader it holds the LSO', async () => {
    const leader = setup();
    await transactions(leader.partition);
    const followerLog = new MemoryPartitionLog(config);
    const follower = setup({ log: followerLog, leader: 2 });
    const bytes = (await leader.log.read(0, 1 << 20, { maxOffset: leader.log.logEndOffset, minOneBatch: true })).records;
    await follower.partition.appendFetched(follower.partition.generation, Buffer.from(bytes), leader.partition.highWatermark);
    expect(await followerLog.abortedTransactions(0, 100)).toEqual(await leader.log.abortedTransactions(0, 100));
    follower.partition.updateInfo({ topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch: 1, partitionEpoch: 1, replicas: [1], isr: [1] });
    expect(follower.partition.lastStableOffset).toBe(2);
    await expect(mark(follower.partition, 7, 2, true, 0)).rejects.toMatchObject({ code: 'TRANSACTION_COORDINATOR_FENCED' });
  });

  it('a truncation that removes a marker re-opens the transaction it ended', async () => {
    const leader = setup();
    await appendTxn(leader.partition, txnBatch(7, 0, 0, ['a']));
    await mark(leader.partition, 7, 1, true);
    const followerLog = new MemoryPartitionLog(config);
    const follower = setup({ log: followerLog, leader: 2 });
    const bytes = (await leader.log.read(0, 1 << 20, { maxOffset: 2, minOneBatch: true })).records;
    await follower.partition.appendFetched(follower.partition.generation, Buffer.from(bytes), 0);
    expect(follower.partition.describeProducers()[0]?.currentTxnStartOffset).toBe(-1);
    await follower.partition.truncateToDivergence(follower.partition.generation, { epoch: 0, endOffset: 1 }, 0);
    expect(follower.partition.logEndOffset).toBe(1);
    expect(follower.partition.describeProducers()[0]).toMatchObject({ producerEpoch: 0, currentTxnStartOffset: 0 });
  });

  it('producer.id.expiration.ms never expires a producer with an open transaction', async () => {
    let now = 0;
    const { partition } = setup({ nowMs: () => now, expirationMs: 1000 });
    await appendTxn(partition, txnBatch(7, 0, 0, ['a']));
    await partition.appendAsLeader(plainBatch(['b'], 8, 0), { requiredAcks: 1, nowMs: 0 });
    now = 10_000;
    await partition.appendAsLeader(plainBatch(['c'], 9, 0), { requiredAcks: 1, nowMs: 0 }); // a new producer triggers expiry
    expect(partition.describeProducers().map((p) => p.producerId)).toEqual([7, 9]);
    expect(partition.lastStableOffset).toBe(0);
  });
});
