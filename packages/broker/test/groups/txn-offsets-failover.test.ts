// Cluster mode (3 nodes, RF 3): a consumer group member sends its offsets to a transaction, then the
// group coordinator (leader of the group's __consumer_offsets partition) dies without a controlled
// shutdown before the transaction ends. The new leader loads the partition: the offsets are pending
// there (require_stable: UNSTABLE_OFFSET_COMMIT), the zombie member's generation still fences, and the
// COMMIT marker the new leader writes when the transaction ends makes them the group's offsets.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { AdminClient, BrokerClient, GroupsClient, TransactionsClient, tributary } from '@tributary/protocol';
import { parseNodeConfig, startNode, type TributaryNode } from '../../src/index.js';
import { FAST, freePorts } from '../cluster/cluster-harness.js';
import { codeName, silentLogger } from '../helpers.js';

const nodes = new Map<number, TributaryNode>();
const closers: (() => void)[] = [];
let root = '';

afterAll(async () => {
  for (const close of closers) close();
  await Promise.allSettled([...nodes.values()].map((n) => n.close({ controlledShutdown: false })));
  if (root !== '') await rm(root, { recursive: true, force: true });
});

type Unary<Req, Res> = (req: Req, options: Partial<grpc.CallOptions>, cb: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;
function call<C, Req, Res>(client: C, method: Unary<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, { deadline: new Date(Date.now() + 10_000) }, (err, res) => (err !== null && err !== undefined ? reject(err) : resolve(res!)));
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const value = await probe().catch((err: unknown) => {
      last = err;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('offsets in transactions across a group coordinator failover (3 nodes)', () => {
  it('pending offsets survive the failover and the new leader\'s COMMIT marker completes them', async () => {
    root = await mkdtemp(join(tmpdir(), 'tributary-txn-groups-'));
    const ports = await freePorts(3);
    const voters = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const address = (id: number): string => `127.0.0.1:${ports[id - 1]!}`;
    await Promise.all([1, 2, 3].map(async (id) => {
      const config = parseNodeConfig({
        flags: { 'node.id': id, listen: address(id), 'data.dir': join(root, `node-${id}`), 'controller.quorum.voters': voters, 'cluster.id': 'txn-groups-test' },
        set: { ...FAST, 'default.replication.factor': '3', 'transaction.state.log.num.partitions': '1', 'transaction.state.log.replication.factor': '3' },
      });
      nodes.set(id, await startNode(config, { logger: silentLogger.child({ nodeId: id }), shutdownGraceMs: 500, groups: { 'offsets.topic.num.partitions': 1, 'group.tick.interval.ms': 50 } }));
    }));
    const clientsOf = (id: number) => {
      const c = {
        groups: new GroupsClient(address(id), grpc.credentials.createInsecure()),
        txn: new TransactionsClient(address(id), grpc.credentials.createInsecure()),
        broker: new BrokerClient(address(id), grpc.credentials.createInsecure()),
      };
      closers.push(() => { c.groups.close(); c.txn.close(); c.broker.close(); });
      return c;
    };
    const clients = new Map([1, 2, 3].map((id) => [id, clientsOf(id)]));
    const any = () => clients.get([...nodes.keys()][0]!)!;
    const coordinatorOf = (key: string, keyType: tributary.v1.CoordinatorType) => until(`the coordinator of ${key}`, async () => {
      const r = await call(any().groups, any().groups.findCoordinator, { groupId: key, keyType });
      return codeName(r.error) === 'NONE' && nodes.has(r.nodeId) ? r.nodeId : undefined;
    });

    const admin = new AdminClient(address(1), grpc.credentials.createInsecure());
    await until('topic created', async () => {
      const r = await call(admin, admin.createTopics, { topics: [{ name: 'ft', numPartitions: 1, replicationFactor: 3 }], timeoutMs: 10_000 });
      const code = codeName(r.topics?.[0]?.error);
      return code === 'NONE' || code === 'TOPIC_ALREADY_EXISTS' ? true : undefined;
    });
    admin.close();

    // A member of generation g of group FG.
    const first = await coordinatorOf('FG', tributary.v1.CoordinatorType.GROUP);
    const g1 = clients.get(first)!.groups;
    const joined = await until('joined', async () => {
      const r = await call(g1, g1.joinGroup, {
        groupId: 'FG', memberId: '', clientId: 'c', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, protocolType: 'consumer',
        assignmentStrategies: ['range'], topics: ['ft'], generationId: -1,
      });
      return codeName(r.error) === 'NONE' ? r : undefined;
    });
    expect(codeName((await call(g1, g1.syncGroup, { groupId: 'FG', memberId: joined.memberId, generationId: joined.generationId })).error)).toBe('NONE');

    // The transaction: its producer, the offsets partition added, the offsets written (pending).
    const txnNode = async () => clients.get(await coordinatorOf('tx-fo', tributary.v1.CoordinatorType.TRANSACTION))!;
    const producer = await until('InitProducerId', async () => {
      const c = await txnNode();
      const r = await call(c.broker, c.broker.initProducerId, { transactionalId: 'tx-fo', transactionTimeoutMs: 60_000 });
      return codeName(r.error) === 'NONE' ? { producerId: Number(r.producerId), producerEpoch: r.producerEpoch } : undefined;
    });
    await until('AddOffsetsToTxn', async () => {
      const c = await txnNode();
      const r = await call(c.txn, c.txn.addOffsetsToTxn, { transactionalId: 'tx-fo', ...producer, groupId: 'FG' });
      return codeName(r.error) === 'NONE' ? r : undefined;
    });
    const member = { generationId: joined.generationId, memberId: joined.memberId };
    const sent = await call(g1, g1.txnOffsetCommit, {
      transactionalId: 'tx-fo', groupId: 'FG', ...producer, ...member,
      topics: [{ topic: 'ft', partitions: [{ partition: 0, committedOffset: 77, metadata: 'txn' }] }],
    });
    expect(codeName(sent.topics?.[0]?.partitions?.[0]?.error)).toBe('NONE');

    // The group coordinator dies before the transaction ends.
    await nodes.get(first)!.close({ controlledShutdown: false });
    nodes.delete(first);
    const second = await until('a new group coordinator', async () => {
      const id = await coordinatorOf('FG', tributary.v1.CoordinatorType.GROUP);
      return id !== first ? id : undefined;
    });
    const g2 = clients.get(second)!.groups;
    const fetch = async (requireStable: boolean) => {
      const r = await call(g2, g2.offsetFetch, { groupId: 'FG', topics: [{ topic: 'ft', partitions: [0] }], requireStable });
      if (codeName(r.error) !== 'NONE') throw new Error(codeName(r.error));
      const p = r.topics![0]!.partitions![0]!;
      return { offset: Number(p.committedOffset), error: codeName(p.error) };
    };
    expect(await until('the new coordinator loaded', () => fetch(true))).toEqual({ offset: -1, error: 'UNSTABLE_OFFSET_COMMIT' });
    expect(await fetch(false)).toEqual({ offset: -1, error: 'NONE' });
    // The generation came back with the group: a zombie of an older generation is still fenced.
    const zombie = await call(g2, g2.txnOffsetCommit, {
      transactionalId: 'tx-fo', groupId: 'FG', ...producer, generationId: joined.generationId - 1, memberId: joined.memberId,
      topics: [{ topic: 'ft', partitions: [{ partition: 0, committedOffset: 1 }] }],
    });
    expect(codeName(zombie.topics?.[0]?.partitions?.[0]?.error)).toBe('ILLEGAL_GENERATION');

    await until('EndTxn (commit)', async () => {
      const c = await txnNode();
      const r = await call(c.txn, c.txn.endTxn, { transactionalId: 'tx-fo', ...producer, committed: true });
      return codeName(r.error) === 'NONE' ? r : undefined;
    });
    const done = await until('the COMMIT marker applied on the new coordinator', async () => {
      const o = await fetch(true);
      return o.error === 'NONE' && o.offset !== -1 ? o : undefined;
    });
    expect(done).toEqual({ offset: 77, error: 'NONE' });
  }, 120_000);
});
