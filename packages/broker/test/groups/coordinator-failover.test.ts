// Cluster mode: the coordinator of a group is the leader of its __consumer_offsets partition (RF 3). Kill
// that node without a controlled shutdown: another broker becomes leader, loads the partition, and the
// group's commits and generation are there — committed offsets never go backwards.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { AdminClient, GroupsClient, tributary } from '@tributary/protocol';
import { parseNodeConfig, startNode, type TributaryNode } from '../../src/index.js';
import { FAST, freePorts } from '../cluster/cluster-harness.js';
import { silentLogger } from '../helpers.js';

const nodes = new Map<number, TributaryNode>();
let root = '';

afterAll(async () => {
  await Promise.allSettled([...nodes.values()].map((n) => n.close({ controlledShutdown: false })));
  if (root !== '') await rm(root, { recursive: true, force: true });
});

type Unary<Req, Res> = (req: Req, options: Partial<grpc.CallOptions>, cb: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;
function call<Req, Res>(client: GroupsClient, method: Unary<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, { deadline: new Date(Date.now() + 10_000) }, (err, res) => (err !== null && err !== undefined ? reject(err) : resolve(res!)));
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('group coordinator failover (3 nodes)', () => {
  it('commits survive the loss of the coordinator; the member keeps its generation at the new coordinator', async () => {
    root = await mkdtemp(join(tmpdir(), 'tributary-groups-'));
    const ports = await freePorts(3);
    const voters = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const address = (id: number): string => `127.0.0.1:${ports[id - 1]!}`;
    await Promise.all([1, 2, 3].map(async (id) => {
      const config = parseNodeConfig({
        flags: { 'node.id': id, listen: address(id), 'data.dir': join(root, `node-${id}`), 'controller.quorum.voters': voters, 'cluster.id': 'groups-test' },
        set: { ...FAST, 'default.replication.factor': '3' },
      });
      nodes.set(id, await startNode(config, { logger: silentLogger.child({ nodeId: id }), shutdownGraceMs: 500, groups: { 'offsets.topic.num.partitions': 2, 'group.tick.interval.ms': 50 } }));
    }));
    const clients = new Map([1, 2, 3].map((id) => [id, new GroupsClient(address(id), grpc.credentials.createInsecure())]));
    const any = (): GroupsClient => clients.get([...nodes.keys()][0]!)!;
    const findCoordinator = async (): Promise<number> => until('a coordinator', async () => {
      const r = await call(any(), any().findCoordinator, { groupId: 'FG' });
      return (r.error?.code ?? 0) === 0 && nodes.has(r.nodeId) ? r.nodeId : undefined;
    });

    // The user topic the group commits for.
    const admin = new AdminClient(address(1), grpc.credentials.createInsecure());
    await until('topic created', async () => {
      const r = await new Promise<tributary.v1.CreateTopicsResponse>((resolve, reject) => admin.createTopics(
        { topics: [{ name: 'ft', numPartitions: 1, replicationFactor: 3 }], timeoutMs: 10_000 }, (err, res) => (err ? reject(err) : resolve(res!))));
      const code = r.topics[0]?.error?.code ?? 0;
      return code === 0 || code === tributary.v1.ErrorCode.TOPIC_ALREADY_EXISTS ? true : undefined;
    });
    admin.close();
    const first = await findCoordinator();
    const coordinator = clients.get(first)!;
    const joined = await until('joined', async () => {
      const r = await call(coordinator, coordinator.joinGroup, {
        groupId: 'FG', memberId: '', clientId: 'c', sessionTimeoutMs: 20_000, rebalanceTimeoutMs: 20_000, protocolType: 'consumer',
        assignmentStrategies: ['range'], topics: ['ft'], generationId: -1,
      });
      return (r.error?.code ?? 0) === 0 ? r : undefined;
    });
    const synced = await call(coordinator, coordinator.syncGroup, { groupId: 'FG', memberId: joined.memberId, generationId: joined.generationId });
    expect(synced.error?.code ?? 0).toBe(0);
    const commit = async (client: GroupsClient, offset: number): Promise<tributary.v1.OffsetCommitResponse> => call(client, client.offsetCommit, {
      groupId: 'FG', generationId: joined.generationId, memberId: joined.memberId,
      topics: [{ topic: 'ft', partitions: [{ partition: 0, committedOffset: offset, metadata: 'm' }] }],
    });
    for (const offset of [10, 20, 30]) {
      const r = await commit(coordinator, offset);
      expect(r.topics[0]!.partitions![0]!.error?.code ?? 0).toBe(0);
    }

    await nodes.get(first)!.close({ controlledShutdown: false });
    nodes.delete(first);
    const second = await until('a new coordinator', async () => {
      const id = await findCoordinator();
      return id !== first ? id : undefined;
    });
    const next = clients.get(second)!;
    const fetched = await until('the new coordinator loaded', async () => {
      const r = await call(next, next.offsetFetch, { groupId: 'FG', topics: [{ topic: 'ft', partitions: [0] }] });
      return (r.error?.code ?? 0) === 0 ? r : undefined;
    });
    expect(Number(fetched.topics[0]!.partitions![0]!.committedOffset)).toBe(30);
    // The group re-formed from the log: the member's generation is still current there.
    const hb = await call(next, next.heartbeat, { groupId: 'FG', memberId: joined.memberId, generationId: joined.generationId });
    expect(hb.error?.code ?? 0).toBe(0);
    const r = await commit(next, 40);
    expect(r.topics[0]!.partitions![0]!.error?.code ?? 0).toBe(0);
    for (const c of clients.values()) c.close();
  }, 90_000);
});
