// The transaction coordinator on a real in-process cluster (3 brokers beside one dedicated controller,
// so that two brokers can be down at once without losing the metadata quorum): FindCoordinator
// (TRANSACTION), InitProducerId fencing, AddPartitionsToTxn and verify_only, a transactional produce,
// EndTxn → COMMIT markers on the partitions → CompleteCommit; then coordinator failover in the middle of
// a commit: the markers cannot be written (the only replica of one partition is down), the coordinator
// is killed in PrepareCommit, and the broker that takes over `__transaction_state` loads the PrepareCommit
// and finishes it once that partition is back.
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { AdminClient, BrokerClient, GroupsClient, TransactionsClient, decodeRecordBatches, encodeRecordBatch, tributary } from '@tributary/protocol';
import { startCluster, type InProcessCluster } from '@tributary/testing';

const E = tributary.v1.ErrorCode;
const TXN_ID = 'coordinator-test-txn';

type Unary<Req, Res> = (req: Req, options: Partial<grpc.CallOptions>, cb: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;
function call<C extends grpc.Client, Req, Res>(client: C, method: Unary<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, { deadline: new Date(Date.now() + 15_000) }, (err, res) => (err !== null && err !== undefined ? reject(err) : resolve(res!)));
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let cluster: InProcessCluster | undefined;
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('transaction coordinator (in-process cluster: 3 brokers, 1 controller)', () => {
  it('fences by InitProducerId, verifies, commits with markers, and a new coordinator finishes a PrepareCommit', async () => {
    cluster = await startCluster({
      topology: { controllers: 1, brokers: 3 }, logLevel: (process.env['TXN_TEST_LOG_LEVEL'] ?? 'silent') as 'silent',
      configs: { 'transaction.state.log.num.partitions': '2', 'replica.lag.time.max.ms': '3000', 'default.replication.factor': '3' },
    });
    const c = cluster;
    const address = new Map(c.brokers.map((b) => [b.nodeId, b.address]));
    const clients = new Map(c.brokers.map((b) => [b.nodeId, {
      broker: new BrokerClient(b.address, grpc.credentials.createInsecure()),
      groups: new GroupsClient(b.address, grpc.credentials.createInsecure()),
      txn: new TransactionsClient(b.address, grpc.credentials.createInsecure()),
      admin: new AdminClient(b.address, grpc.credentials.createInsecure()),
    }]));
    const on = (nodeId: number) => clients.get(nodeId)!;
    const live = () => c.brokers.map((b) => b.nodeId).filter((id) => c.isRunning(id));
    const any = () => on(live()[0]!);

    const created = await call(any().admin, any().admin.createTopics, { topics: [
      { name: 'out', numPartitions: 2, replicationFactor: 3 }, { name: 'pin', numPartitions: 3, replicationFactor: 1 },
    ] });
    for (const t of created.topics) expect(t.error?.code ?? 0, t.error?.message).toBe(0);
    const leaderOf = async (topic: string, partition: number): Promise<number> => until(`a leader of ${topic}-${partition}`, async () => {
      const md = await call(any().broker, any().broker.metadata, { topics: [topic] });
      const leader = md.topics[0]?.partitions.find((p) => p.partition === partition)?.leaderId ?? -1;
      return leader >= 0 && c.isRunning(leader) ? leader : undefined;
    });
    const findCoordinator = async (): Promise<number> => until('the transaction coordinator', async () => {
      const r = await call(any().groups, any().groups.findCoordinator, { groupId: TXN_ID, keyType: tributary.v1.CoordinatorType.TRANSACTION });
      return (r.error?.code ?? 0) === 0 && c.isRunning(r.nodeId) ? r.nodeId : undefined;
    });
    const coordinator = await findCoordinator();
    expect(address.has(coordinator)).toBe(true);

    // InitProducerId: the first incarnation, then a second one that fences it.
    const init = async (): Promise<{ producerId: number; producerEpoch: number }> => until('InitProducerId', async () => {
      const r = await call(on(coordinator).broker, on(coordinator).broker.initProducerId, { transactionalId: TXN_ID, transactionTimeoutMs: 60_000 });
      const code = r.error?.code ?? 0;
      if (code === E.COORDINATOR_LOAD_IN_PROGRESS || code === E.CONCURRENT_TRANSACTIONS || code === E.COORDINATOR_NOT_AVAILABLE) return undefined;
      expect(code, r.error?.message).toBe(0);
      return { producerId: Number(r.producerId), producerEpoch: r.producerEpoch };
    });
    const first = await init();
    const second = await init();
    expect(second).toEqual({ producerId: first.producerId, producerEpoch: first.producerEpoch + 1 });
    // A transaction timeout above transaction.max.timeout.ms is refused.
    const tooLong = await call(on(coordinator).broker, on(coordinator).broker.initProducerId, { transactionalId: TXN_ID, transactionTimeoutMs: 900_001 });
    expect(tooLong.error?.code).toBe(E.INVALID_TRANSACTION_TIMEOUT);
    // A non-coordinator answers NOT_COORDINATOR.
    const other = live().find((id) => id !== coordinator)!;
    const wrong = await call(on(other).broker, on(other).broker.initProducerId, { transactionalId: TXN_ID, transactionTimeoutMs: 60_000 });
    expect(wrong.error?.code).toBe(E.NOT_COORDINATOR);

    const add = (epoch: number, topics: { topic: string; partitions: number[] }[], verifyOnly = false, at = coordinator) =>
      call(on(at).txn, on(at).txn.addPartitionsToTxn, { transactionalId: TXN_ID, producerId: first.producerId, producerEpoch: epoch, topics, verifyOnly });
    expect((await add(first.producerEpoch, [{ topic: 'out', partitions: [0] }])).error?.code).toBe(E.PRODUCER_FENCED);
    expect((await add(second.producerEpoch, [{ topic: 'out', partitions: [0, 1] }])).error?.code ?? 0).toBe(0);
    const verified = await add(second.producerEpoch, [{ topic: 'out', partitions: [0] }, { topic: 'pin', partitions: [0] }], true);
    expect(verified.topics.find((t) => t.topic === 'out')?.partitions?.[0]?.error?.code ?? 0).toBe(0);
    expect(verified.topics.find((t) => t.topic === 'pin')?.partitions?.[0]?.error?.code).toBe(E.INVALID_TXN_STATE);

    // A transactional batch to out-0, verified by its leader with the coordinator, then commit.
    const produce = async (topic: string, partition: number, epoch: number, value: string): Promise<void> => {
      const leader = await leaderOf(topic, partition);
      const batch = encodeRecordBatch({ records: [{ key: null, value: Buffer.from(value), timestamp: Date.now() }], producerId: first.producerId, producerEpoch: epoch, baseSequence: 0, transactional: true });
      const r = await call(on(leader).broker, on(leader).broker.produce, { acks: -1, timeoutMs: 10_000, transactionalId: TXN_ID, topics: [{ topic, partitions: [{ partition, recordBatch: batch }] }] });
      const p = r.topics[0]?.partitions?.[0];
      expect(p?.error?.code ?? 0, p?.error?.message).toBe(0);
    };
    await produce('out', 0, second.producerEpoch, 'committed-1');
    const ended = await call(on(coordinator).txn, on(coordinator).txn.endTxn, { transactionalId: TXN_ID, producerId: first.producerId, producerEpoch: second.producerEpoch, committed: true });
    expect(ended.error?.code ?? 0, ended.error?.message).toBe(0);
    const third = { producerId: Number(ended.producerId), producerEpoch: ended.producerEpoch };
    expect(third).toEqual({ producerId: first.producerId, producerEpoch: second.producerEpoch + 1 });
    const describe = async (at: number) => {
      const r = await call(on(at).txn, on(at).txn.describeTransactions, { transactionalIds: [TXN_ID] });
      return r.transactions[0];
    };
    await until('CompleteCommit', async () => ((await describe(coordinator))?.state === 'CompleteCommit' ? true : undefined));
    // The COMMIT marker is in out-0 (and out-1, which got no data), with the bumped epoch.
    for (const partition of [0, 1]) {
      const leader = await leaderOf('out', partition);
      const fetched = await call(on(leader).broker, on(leader).broker.fetch, { maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic: 'out', partitions: [{ partition, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }] });
      const bytes = fetched.topics[0]?.partitions?.[0]?.recordBatch;
      const batches = bytes === undefined || bytes === null ? [] : [...decodeRecordBatches(Buffer.from(bytes))];
      const marker = batches.find((b) => b.control);
      expect(marker, `a marker in out-${partition}`).toBeDefined();
      expect([Number(marker!.producerId), marker!.producerEpoch]).toEqual([third.producerId, third.producerEpoch]);
    }

    // Failover in PrepareCommit: a partition whose only replica (on X) is down cannot take its marker.
    const x = live().find((id) => id !== coordinator)!;
    const y = live().find((id) => id !== coordinator && id !== x)!;
    const pinPartition = await until('a pin partition on X', async () => {
      const md = await call(any().broker, any().broker.metadata, { topics: ['pin'] });
      return md.topics[0]?.partitions.find((p) => p.leaderId === x)?.partition;
    });
    expect((await add(third.producerEpoch, [{ topic: 'out', partitions: [0] }, { topic: 'pin', partitions: [pinPartition] }])).error?.code ?? 0).toBe(0);
    await produce('pin', pinPartition, third.producerEpoch, 'committed-2');
    await c.kill(x);
    const ended2 = await until('EndTxn with X down', async () => {
      const r = await call(on(coordinator).txn, on(coordinator).txn.endTxn, { transactionalId: TXN_ID, producerId: first.producerId, producerEpoch: third.producerEpoch, committed: true });
      const code = r.error?.code ?? 0;
      if (code === E.COORDINATOR_NOT_AVAILABLE) return undefined; // the state write waits for the ISR to drop X
      expect(code, r.error?.message).toBe(0);
      return r;
    });
    expect(ended2.producerEpoch).toBe(third.producerEpoch + 1);
    expect((await describe(coordinator))?.state).toBe('PrepareCommit');
    // The next InitProducerId must wait for the markers.
    const busy = await call(on(coordinator).broker, on(coordinator).broker.initProducerId, { transactionalId: TXN_ID, transactionTimeoutMs: 60_000 });
    expect(busy.error?.code).toBe(E.CONCURRENT_TRANSACTIONS);

    await c.kill(coordinator);
    const next = await findCoordinator();
    expect(next).toBe(y);
    const loaded = await until('the new coordinator loaded the PrepareCommit', async () => {
      const t = await describe(y);
      return (t?.error?.code ?? 0) === 0 ? t : undefined;
    });
    expect(loaded?.state).toBe('PrepareCommit');
    await c.restart(x);
    await until('the new coordinator finishes the commit', async () => ((await describe(y))?.state === 'CompleteCommit' ? true : undefined), 60_000);
    const pinLeader = await leaderOf('pin', pinPartition);
    const fetched = await call(on(pinLeader).broker, on(pinLeader).broker.fetch, { maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic: 'pin', partitions: [{ partition: pinPartition, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }] });
    const bytes = fetched.topics[0]?.partitions?.[0]?.recordBatch;
    const batches = bytes === undefined || bytes === null ? [] : [...decodeRecordBatches(Buffer.from(bytes))];
    // COMMIT markers (control key: int16 version, int16 type 1) with the bumped epoch; a retry after a lost
    // answer may write one more, but the Complete* write failing (no ISR yet) must not rewrite them in a loop.
    const markers = batches.filter((b) => b.control);
    expect(markers.length).toBeGreaterThanOrEqual(1);
    expect(markers.length).toBeLessThanOrEqual(2);
    for (const m of markers) {
      expect(m.producerEpoch).toBe(third.producerEpoch + 1);
      expect(m.records[0]?.key?.readInt16BE(2)).toBe(1);
    }
    for (const cl of clients.values()) for (const client of Object.values(cl)) client.close();
  }, 180_000);
});
