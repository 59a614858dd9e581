// Offsets in transactions on one real node, over the wire: InitProducerId → AddOffsetsToTxn →
// TxnOffsetCommit (pending: OffsetFetch require_stable says UNSTABLE_OFFSET_COMMIT) → EndTxn commit makes
// them the group's offsets, EndTxn abort leaves the committed ones; a zombie of the old epoch is
// refused; a restart (the coordinator loads __consumer_offsets afresh) gives the same offsets, and a
// transaction left open across the restart stays pending until its end.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupsClient, TransactionsClient, tributary } from '@tributary/protocol';
import { call, codeName, createTopic, startTestNode, type TestNode } from '../helpers.js';

let t: TestNode;
let txn: TransactionsClient;
let groups: GroupsClient;
const GROUP = 'EG';
const TXN_ID = 'tx-offsets';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const value = await probe().catch((err: unknown) => {
      last = err;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function connect(node: TestNode): void {
  txn?.close();
  groups?.close();
  txn = new TransactionsClient(node.node.address, grpc.credentials.createInsecure());
  groups = new GroupsClient(node.node.address, grpc.credentials.createInsecure());
}

async function init(): Promise<{ producerId: number; producerEpoch: number }> {
  await until('a transaction coordinator', async () => {
    const r = await call(groups, groups.findCoordinator, { groupId: TXN_ID, keyType: tributary.v1.CoordinatorType.TRANSACTION });
    return codeName(r.error) === 'NONE' ? r : undefined;
  });
  return until('InitProducerId', async () => {
    const r = await call(t.broker, t.broker.initProducerId, { transactionalId: TXN_ID, transactionTimeoutMs: 60_000 });
    return codeName(r.error) === 'NONE' ? { producerId: Number(r.producerId), producerEpoch: r.producerEpoch } : undefined;
  });
}

/** AddOffsetsToTxn (retried while the previous transaction's markers are written) then TxnOffsetCommit. */
async function sendOffsets(p: { producerId: number; producerEpoch: number }, offsets: [number, number][], member = { generationId: -1, memberId: '' }): Promise<string[]> {
  await until('AddOffsetsToTxn', async () => {
    const r = await call(txn, txn.addOffsetsToTxn, { transactionalId: TXN_ID, ...p, groupId: GROUP });
    return codeName(r.error) === 'NONE' ? r : undefined;
  });
  const r = await call(groups, groups.txnOffsetCommit, {
    transactionalId: TXN_ID, groupId: GROUP, ...p, ...member,
    topics: [{ topic: 't', partitions: offsets.map(([partition, committedOffset]) => ({ partition, committedOffset, metadata: 'txn' })) }],
  });
  expect(codeName(r.error)).toBe('NONE');
  return (r.topics?.[0]?.partitions ?? []).map((x) => codeName(x.error));
}

async function endTxn(p: { producerId: number; producerEpoch: number }, committed: boolean): Promise<{ producerId: number; producerEpoch: number }> {
  const r = await call(txn, txn.endTxn, { transactionalId: TXN_ID, ...p, committed });
  expect(codeName(r.error)).toBe('NONE');
  return { producerId: Number(r.producerId), producerEpoch: r.producerEpoch };
}

async function fetchOffsets(requireStable: boolean): Promise<[number, number, string][]> {
  const r = await call(groups, groups.offsetFetch, { groupId: GROUP, topics: [{ topic: 't', partitions: [0, 1] }], requireStable });
  if (codeName(r.error) !== 'NONE') throw new Error(codeName(r.error));
  return (r.topics?.[0]?.partitions ?? []).map((x) => [x.partition ?? 0, Number(x.committedOffset), codeName(x.error)]);
}

beforeAll(async () => {
  t = await startTestNode({ set: { 'transaction.state.log.num.partitions': '1', 'offsets.topic.num.partitions': '1' } });
  connect(t);
  await createTopic(t, 't', 2);
  await until('a group coordinator', async () => {
    const r = await call(groups, groups.findCoordinator, { groupId: GROUP });
    return codeName(r.error) === 'NONE' ? r : undefined;
  });
}, 30_000);

afterAll(async () => {
  txn?.close();
  groups?.close();
  await t?.close();
});

describe('offsets in transactions, one node', () => {
  it('pending until EndTxn; commit applies, abort keeps the committed offsets; zombies are refused; a restart agrees', async () => {
    await until('plain commit', async () => {
      const r = await call(groups, groups.offsetCommit, { groupId: GROUP, generationId: -1, memberId: '', topics: [{ topic: 't', partitions: [{ partition: 0, committedOffset: 5 }] }] });
      return codeName(r.topics?.[0]?.partitions?.[0]?.error) === 'NONE' ? r : undefined;
    });
    let p = await init();

    // Without AddOffsetsToTxn the group's offsets partition is not in the transaction.
    const early = await call(groups, groups.txnOffsetCommit, { transactionalId: TXN_ID, groupId: GROUP, ...p, generationId: -1, memberId: '', topics: [{ topic: 't', partitions: [{ partition: 0, committedOffset: 1 }] }] });
    expect(codeName(early.topics?.[0]?.partitions?.[0]?.error)).toBe('INVALID_TXN_STATE');

    expect(await sendOffsets(p, [[0, 9], [1, 3]])).toEqual(['NONE', 'NONE']);
    expect(await fetchOffsets(false)).toEqual([[0, 5, 'NONE'], [1, -1, 'NONE']]);
    expect(await fetchOffsets(true)).toEqual([[0, -1, 'UNSTABLE_OFFSET_COMMIT'], [1, -1, 'UNSTABLE_OFFSET_COMMIT']]);
    const old = p;
    p = await endTxn(p, true);
    expect(p.producerEpoch).toBeGreaterThan(old.producerEpoch); // transactions v2: every end bumps the epoch
    await until('the COMMIT marker applied', async () => {
      const o = await fetchOffsets(true);
      return JSON.stringify(o) === JSON.stringify([[0, 9, 'NONE'], [1, 3, 'NONE']]) ? o : undefined;
    });

    expect(await sendOffsets(p, [[0, 15]])).toEqual(['NONE']);
    p = await endTxn(p, false);
    await until('the ABORT marker applied', async () => {
      const o = await fetchOffsets(true);
      return JSON.stringify(o) === JSON.stringify([[0, 9, 'NONE'], [1, 3, 'NONE']]) ? o : undefined;
    });

    // A zombie producer of the old epoch.
    const zombie = await until('the zombie\'s answer', async () => {
      const r = await call(groups, groups.txnOffsetCommit, { transactionalId: TXN_ID, groupId: GROUP, ...old, generationId: -1, memberId: '', topics: [{ topic: 't', partitions: [{ partition: 0, committedOffset: 99 }] }] });
      const error = codeName(r.topics?.[0]?.partitions?.[0]?.error);
      return error === 'CONCURRENT_TRANSACTIONS' ? undefined : error; // retriable: the abort's markers are still being completed
    });
    expect(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']).toContain(zombie);
    expect(await fetchOffsets(true)).toEqual([[0, 9, 'NONE'], [1, 3, 'NONE']]);

    // A transaction left open across a restart: still pending after the load, completed by its end.
    expect(await sendOffsets(p, [[1, 30]])).toEqual(['NONE']);
    t = await t.restart();
    connect(t);
    expect(await until('reloaded', async () => fetchOffsets(false))).toEqual([[0, 9, 'NONE'], [1, 3, 'NONE']]);
    expect(await fetchOffsets(true)).toEqual([[0, 9, 'NONE'], [1, -1, 'UNSTABLE_OFFSET_COMMIT']]);
    await until('EndTxn after the restart', async () => {
      const r = await call(txn, txn.endTxn, { transactionalId: TXN_ID, ...p, committed: true });
      return codeName(r.error) === 'NONE' ? r : undefined;
    });
    await until('the COMMIT marker after the restart', async () => {
      const o = await fetchOffsets(true);
      return JSON.stringify(o) === JSON.stringify([[0, 9, 'NONE'], [1, 30, 'NONE']]) ? o : undefined;
    });
  });
});
