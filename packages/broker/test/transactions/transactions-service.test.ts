// The Transactions service and InitProducerId on one real node: every hostile field is refused with
// INVALID_ARGUMENT naming it, every named limit is hit, transaction.max.timeout.ms, AddOffsetsToTxn,
// a coordinator-side timeout abort (transaction.abort.timed.out.transaction.cleanup.interval.ms) and
// transactional.id.expiration.ms (transaction.remove.expired.transaction.cleanup.interval.ms); and the
// transaction.* config keys with their defaults, bounds and cross-field rule.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupsClient, TransactionsClient, tributary } from '@tributary/protocol';
import { ConfigError, parseNodeConfig } from '../../src/index.js';
import { transactionCoordinatorConfig } from '../../src/component-configs.js';
import { TXN_OPERATIONS_QUEUED_PER_ID_MAX } from '../../src/transactions/transaction-coordinator-config.js';
import { DESCRIBE_TRANSACTIONS_IDS_MAX, LIST_TRANSACTIONS_FILTERS_MAX } from '../../src/transactions/transactions-service.js';
import { PRODUCER_EPOCH_MAX, TRANSACTIONAL_ID_LENGTH_MAX, TXN_PARTITIONS_MAX } from '../../src/transactions/txn-state.js';
import { OFFSETS_TOPIC, offsetsPartitionFor } from '../../src/groups/group-records.js';
import { call, codeName, createTopic, startTestNode, type TestNode } from '../helpers.js';

const E = tributary.v1.ErrorCode;
let t: TestNode;
let txn: TransactionsClient;
let groups: GroupsClient;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function init(transactionalId: string, transactionTimeoutMs = 10_000): Promise<{ producerId: number; producerEpoch: number }> {
  // The first call creates __transaction_state; the coordinator then loads it.
  await until('a coordinator', async () => {
    const r = await call(groups, groups.findCoordinator, { groupId: transactionalId, keyType: tributary.v1.CoordinatorType.TRANSACTION });
    return codeName(r.error) === 'NONE' ? r : undefined;
  });
  return until('InitProducerId', async () => {
    const r = await call(t.broker, t.broker.initProducerId, { transactionalId, transactionTimeoutMs });
    if (codeName(r.error) !== 'NONE') return undefined;
    return { producerId: Number(r.producerId), producerEpoch: r.producerEpoch };
  });
}

const grpcCode = async (p: Promise<unknown>): Promise<{ code: number | undefined; details: string }> => {
  try {
    await p;
    return { code: undefined, details: '' };
  } catch (err) {
    return { code: (err as grpc.ServiceError).code, details: (err as grpc.ServiceError).details };
  }
};

beforeAll(async () => {
  t = await startTestNode({ set: {
    'transaction.state.log.num.partitions': '3', 'transaction.max.timeout.ms': '20000',
    'transaction.abort.timed.out.transaction.cleanup.interval.ms': '50',
    'transaction.remove.expired.transaction.cleanup.interval.ms': '50', 'transactional.id.expiration.ms': '6000',
    'offsets.topic.num.partitions': '5',
  } });
  txn = new TransactionsClient(t.node.address, grpc.credentials.createInsecure());
  groups = new GroupsClient(t.node.address, grpc.credentials.createInsecure());
  await createTopic(t, 'data', 3);
}, 30_000);

afterAll(async () => {
  txn?.close();
  groups?.close();
  await t?.close();
});

describe('Transactions service: hostile fields', () => {
  it(`transactional ids longer than ${TRANSACTIONAL_ID_LENGTH_MAX} (TRANSACTIONAL_ID_LENGTH_MAX) are INVALID_ARGUMENT everywhere; the limit itself is fine`, async () => {
    const long = 'x'.repeat(TRANSACTIONAL_ID_LENGTH_MAX + 1);
    const answers = await Promise.all([
      call(t.broker, t.broker.initProducerId, { transactionalId: long, transactionTimeoutMs: 1000 }),
      call(txn, txn.addPartitionsToTxn, { transactionalId: long, producerId: 1, producerEpoch: 0, topics: [{ topic: 'data', partitions: [0] }] }),
      call(txn, txn.endTxn, { transactionalId: long, producerId: 1, producerEpoch: 0, committed: true }),
      call(groups, groups.findCoordinator, { groupId: long, keyType: tributary.v1.CoordinatorType.TRANSACTION }),
      call(txn, txn.describeTransactions, { transactionalIds: [long] }),
    ].map(grpcCode));
    for (const r of answers) {
      expect(r.code, r.details).toBe(grpc.status.INVALID_ARGUMENT);
      expect(r.details).toContain('TRANSACTIONAL_ID_LENGTH_MAX');
    }
    const atLimit = await init('y'.repeat(TRANSACTIONAL_ID_LENGTH_MAX));
    expect(atLimit.producerEpoch).toBe(0);
  });

  it('producer ids and epochs out of range, empty ids, and bad partitions are INVALID_ARGUMENT naming the field', async () => {
    const cases: [Promise<unknown>, string][] = [
      [call(txn, txn.addPartitionsToTxn, { transactionalId: 'a', producerId: -5, producerEpoch: 0, topics: [{ topic: 'data', partitions: [0] }] }), 'producer_id'],
      [call(txn, txn.addPartitionsToTxn, { transactionalId: 'a', producerId: 1, producerEpoch: PRODUCER_EPOCH_MAX + 1, topics: [{ topic: 'data', partitions: [0] }] }), 'producer_epoch'],
      [call(txn, txn.addPartitionsToTxn, { transactionalId: 'a', producerId: 1, producerEpoch: -2, topics: [{ topic: 'data', partitions: [0] }] }), 'producer_epoch'],
      [call(txn, txn.addPartitionsToTxn, { transactionalId: '', producerId: 1, producerEpoch: 0, topics: [{ topic: 'data', partitions: [0] }] }), 'transactional_id'],
      [call(txn, txn.addPartitionsToTxn, { transactionalId: 'a', producerId: 1, producerEpoch: 0, topics: [{ topic: 'data', partitions: [-1] }] }), 'topics[0].partitions[0]'],
      [call(txn, txn.addPartitionsToTxn, { transactionalId: 'a', producerId: 1, producerEpoch: 0, topics: [{ topic: 'bad/name', partitions: [0] }] }), 'topics[0].topic'],
      [call(txn, txn.addPartitionsToTxn, { transactionalId: 'a', producerId: 1, producerEpoch: 0, topics: [] }), 'topics'],
      [call(txn, txn.addOffsetsToTxn, { transactionalId: 'a', producerId: 1, producerEpoch: 0, groupId: '' }), 'group_id'],
      [call(t.broker, t.broker.initProducerId, { transactionalId: 'a', transactionTimeoutMs: 1000, producerId: 5 }), 'producer_epoch'],
      [call(t.broker, t.broker.initProducerId, { transactionalId: 'a', transactionTimeoutMs: 1000, producerId: 5, producerEpoch: 40_000 }), 'producer_epoch'],
      [call(txn, txn.listTransactions, { stateFilters: ['Sleeping'] }), 'state_filters[0]'],
      [call(txn, txn.listTransactions, { durationFilterMs: -1 }), 'duration_filter_ms'],
      [call(groups, groups.findCoordinator, { groupId: 'g', keyType: 7 as tributary.v1.CoordinatorType }), 'key_type'],
    ];
    const answers = await Promise.all(cases.map(([p]) => grpcCode(p)));
    for (const [i, [, field]] of cases.entries()) {
      const r = answers[i]!;
      expect(r.code, `${field}: ${r.details}`).toBe(grpc.status.INVALID_ARGUMENT);
      expect(r.details.startsWith(field), r.details).toBe(true);
    }
  });

  it(`more than ${TXN_PARTITIONS_MAX} partitions in one request (TXN_PARTITIONS_MAX), ${DESCRIBE_TRANSACTIONS_IDS_MAX} ids, ${LIST_TRANSACTIONS_FILTERS_MAX} filters are refused`, async () => {
    const partitions = Array.from({ length: TXN_PARTITIONS_MAX + 1 }, (_, i) => i);
    const tooMany = await grpcCode(call(txn, txn.addPartitionsToTxn, { transactionalId: 'a', producerId: 1, producerEpoch: 0, topics: [{ topic: 'data', partitions }] }));
    expect(tooMany.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(tooMany.details).toContain('TXN_PARTITIONS_MAX');
    const ids = await grpcCode(call(txn, txn.describeTransactions, { transactionalIds: Array.from({ length: DESCRIBE_TRANSACTIONS_IDS_MAX + 1 }, (_, i) => `id${i}`) }));
    expect(ids.code).toBe(grpc.status.INVALID_ARGUMENT);
    const filters = await grpcCode(call(txn, txn.listTransactions, { producerIdFilters: Array.from({ length: LIST_TRANSACTIONS_FILTERS_MAX + 1 }, (_, i) => i) }));
    expect(filters.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('transaction_timeout_ms above transaction.max.timeout.ms (or 0) is INVALID_TRANSACTION_TIMEOUT', async () => {
    await init('timeouts');
    for (const transactionTimeoutMs of [20_001, 0]) {
      const r = await call(t.broker, t.broker.initProducerId, { transactionalId: 'timeouts', transactionTimeoutMs });
      expect(codeName(r.error), r.error?.message).toBe('INVALID_TRANSACTION_TIMEOUT');
    }
    const ok = await call(t.broker, t.broker.initProducerId, { transactionalId: 'timeouts', transactionTimeoutMs: 20_000 });
    expect(codeName(ok.error)).toBe('NONE');
  });

  it('unknown and internal partitions are refused whole; nothing is added', async () => {
    const p = await init('unknowns');
    const unknown = await call(txn, txn.addPartitionsToTxn, { transactionalId: 'unknowns', ...p, topics: [{ topic: 'data', partitions: [0, 9] }] });
    expect(codeName(unknown.error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    const internal = await call(txn, txn.addPartitionsToTxn, { transactionalId: 'unknowns', ...p, topics: [{ topic: '__transaction_state', partitions: [0] }] });
    expect(codeName(internal.error)).toBe('INVALID_TOPIC_EXCEPTION');
    const d = await call(txn, txn.describeTransactions, { transactionalIds: ['unknowns'] });
    expect([d.transactions[0]?.state, d.transactions[0]?.topics]).toEqual(['Empty', []]);
  });

  it(`more than ${TXN_OPERATIONS_QUEUED_PER_ID_MAX} requests waiting on one id (TXN_OPERATIONS_QUEUED_PER_ID_MAX) get CONCURRENT_TRANSACTIONS; the rest succeed`, async () => {
    await createTopic(t, 'wide', 200);
    const p = await init('queued');
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => call(txn, txn.addPartitionsToTxn, { transactionalId: 'queued', ...p, topics: [{ topic: 'wide', partitions: [i] }] })));
    const codes = answers.map((a) => codeName(a.error));
    expect(codes.filter((c) => c !== 'NONE' && c !== 'CONCURRENT_TRANSACTIONS')).toEqual([]);
    expect(codes).toContain('CONCURRENT_TRANSACTIONS');
    const d = await call(txn, txn.describeTransactions, { transactionalIds: ['queued'] });
    const added = (d.transactions[0]?.topics ?? []).flatMap((x) => x.partitions ?? []).length;
    expect(added).toBe(codes.filter((c) => c === 'NONE').length);
  });
});

describe('Transactions service: offsets, timeouts, expiration', () => {
  it('AddOffsetsToTxn adds the group\'s __consumer_offsets partition (abs(javaHashCode) % its partition count)', async () => {
    const p = await init('offsets');
    const r = await call(txn, txn.addOffsetsToTxn, { transactionalId: 'offsets', ...p, groupId: 'my-group' });
    expect(codeName(r.error), r.error?.message).toBe('NONE');
    const d = await call(txn, txn.describeTransactions, { transactionalIds: ['offsets'] });
    expect(d.transactions[0]?.state).toBe('Ongoing');
    expect(d.transactions[0]?.topics).toEqual([{ topic: OFFSETS_TOPIC, partitions: [offsetsPartitionFor('my-group', 5)] }]);
  });

  it('an Ongoing transaction past its timeout is aborted with the epoch bumped: the producer is fenced for new work, its abort is a retry that succeeds', async () => {
    const p = await init('times-out', 300);
    const added = await call(txn, txn.addPartitionsToTxn, { transactionalId: 'times-out', ...p, topics: [{ topic: 'data', partitions: [1] }] });
    expect(codeName(added.error)).toBe('NONE');
    const aborted = await until('the timeout abort', async () => {
      const d = await call(txn, txn.describeTransactions, { transactionalIds: ['times-out'] });
      return d.transactions[0]?.state === 'CompleteAbort' ? d.transactions[0] : undefined;
    });
    expect(aborted.producerEpoch).toBe(p.producerEpoch + 1);
    const late = await call(txn, txn.addPartitionsToTxn, { transactionalId: 'times-out', ...p, topics: [{ topic: 'data', partitions: [2] }] });
    expect(codeName(late.error)).toBe('PRODUCER_FENCED');
    const commit = await call(txn, txn.endTxn, { transactionalId: 'times-out', ...p, committed: true });
    expect(codeName(commit.error)).toBe('INVALID_TXN_STATE');
    const abort = await call(txn, txn.endTxn, { transactionalId: 'times-out', ...p, committed: false });
    expect([codeName(abort.error), Number(abort.producerId), abort.producerEpoch]).toEqual(['NONE', p.producerId, p.producerEpoch + 1]);
  });

  it('an id idle past transactional.id.expiration.ms is removed (a tombstone); ListTransactions no longer shows it', async () => {
    // 6 s of idleness (not less: ListTransactions below must answer before the id expires, also on a
    // loaded machine).
    await init('expires');
    const listed = await call(txn, txn.listTransactions, {});
    expect(listed.transactions.map((x) => x.transactionalId)).toContain('expires');
    await until('the id expires', async () => {
      const d = await call(txn, txn.describeTransactions, { transactionalIds: ['expires'] });
      return codeName(d.transactions[0]?.error) === 'TRANSACTIONAL_ID_NOT_FOUND' ? true : undefined;
    }, 40_000);
    const after = await call(txn, txn.listTransactions, {});
    expect(after.transactions.map((x) => x.transactionalId)).not.toContain('expires');
    // Starting over gets a new producer id at epoch 0.
    expect((await init('expires')).producerEpoch).toBe(0);
  });
});

describe('transaction.* config keys', () => {
  const parse = (set: Record<string, string>) => parseNodeConfig({ flags: { 'node.id': 1, listen: '127.0.0.1:9092', 'data.dir': '/tmp/x' }, set });

  it('defaults are Kafka\'s', () => {
    const c = transactionCoordinatorConfig(parse({}));
    expect(c).toMatchObject({
      stateLogNumPartitions: 50, stateLogReplicationFactor: 3, stateLogMinIsr: 2, stateLogSegmentBytes: 104_857_600, maxTimeoutMs: 900_000,
      transactionalIdExpirationMs: 604_800_000, abortTimedOutIntervalMs: 10_000, removeExpiredIntervalMs: 3_600_000,
    });
  });

  it.each([
    ['transaction.state.log.num.partitions', '0'], ['transaction.state.log.replication.factor', '0'], ['transaction.state.log.replication.factor', '33'],
    ['transaction.state.log.min.isr', '0'], ['transaction.state.log.segment.bytes', '60'], ['transaction.max.timeout.ms', '0'],
    ['transactional.id.expiration.ms', '0'], ['transaction.abort.timed.out.transaction.cleanup.interval.ms', '0'],
    ['transaction.remove.expired.transaction.cleanup.interval.ms', 'soon'],
  ])('%s=%s is refused', (key, value) => {
    expect(() => parse({ [key]: value })).toThrow(ConfigError);
    try {
      parse({ [key]: value });
    } catch (err) {
      expect((err as ConfigError).issues.map((i) => i.key)).toContain(key);
    }
  });

  it('transaction.state.log.min.isr above transaction.state.log.replication.factor is refused', () => {
    expect(() => parse({ 'transaction.state.log.min.isr': '3', 'transaction.state.log.replication.factor': '2' })).toThrow(/transaction.state.log.min.isr \(3\) must be ≤ transaction.state.log.replication.factor \(2\)/);
  });
});
