// Transaction markers on a real 3-node cluster, over the inter-node Replica.WriteTxnMarkers RPC as a
// transaction coordinator sends them: the leader writes the control batch, answers once it is committed,
// the followers replicate it and track the producer's marker state (so a new leader still fences a
// deposed coordinator), read_committed fetches never show it as a record, and a follower, another
// cluster's coordinator and hostile fields are refused.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Producer } from '@tributary/client';
import { BrokerClient, ReplicaClient, decodeRecordBatches, tributary } from '@tributary/protocol';
import { startCluster, type InProcessCluster } from '../src/index.js';

let cluster: InProcessCluster | undefined;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await cluster?.stop();
  cluster = undefined;
});

const TOPIC = 'txn-markers';

function call<Req, Res>(client: grpc.Client, method: string, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (r: Req, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => void>)[method]!
      .call(client, request, { deadline: Date.now() + 30_000 }, (err, res) => (err !== null ? reject(err) : resolve(res as Res)));
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('WriteTxnMarkers on a 3-node cluster', () => {
  it('writes a committed marker on the leader, replicated and tracked by the followers; fences a deposed coordinator after failover', async () => {
    cluster = await startCluster({ nodes: 3 });
    const c = cluster;
    const admin = new Admin({ 'bootstrap.servers': c.bootstrapServers });
    closers.push(() => admin.close());
    await admin.createTopics([{ topic: TOPIC, numPartitions: 1, replicationFactor: 3 }]);
    const clients = new Map<number, { broker: BrokerClient; replica: ReplicaClient }>();
    for (const b of c.brokers) {
      const entry = { broker: new BrokerClient(b.address, grpc.credentials.createInsecure()), replica: new ReplicaClient(b.address, grpc.credentials.createInsecure()) };
      clients.set(b.nodeId, entry);
      closers.push(() => { entry.broker.close(); entry.replica.close(); });
    }
    const leaderWithFullIsr = (exclude?: number) => waitFor('a leader with a full ISR', async () => {
      const via = [...clients.entries()].find(([id]) => id !== exclude && c.isRunning(id))![1].broker;
      const md = await call<tributary.v1.IMetadataRequest, tributary.v1.MetadataResponse>(via, 'metadata', { topics: [TOPIC] });
      const p = md.topics[0]?.partitions?.[0];
      const wanted = exclude === undefined ? 3 : 2;
      return p !== undefined && (p.leaderId ?? -1) >= 0 && p.leaderId !== exclude && (p.isr ?? []).length >= wanted ? p.leaderId! : undefined;
    });
    const leader = await leaderWithFullIsr();

    const producer = new Producer({ 'bootstrap.servers': c.bootstrapServers, acks: 'all' });
    closers.push(() => producer.close());
    for (const value of ['r0', 'r1']) await producer.send({ topic: TOPIC, partition: 0, value });

    const clusterId = c.node(leader).clusterId;
    const writeMarker = (nodeId: number, fields: { coordinatorEpoch: number; committed?: boolean; producerEpoch?: number; clusterId?: string }) =>
      call<tributary.internal.v1.IWriteTxnMarkersRequest, tributary.internal.v1.WriteTxnMarkersResponse>(clients.get(nodeId)!.replica, 'writeTxnMarkers', {
        clusterId: fields.clusterId ?? clusterId, coordinatorId: leader,
        markers: [{ producerId: 42, producerEpoch: fields.producerEpoch ?? 1, committed: fields.committed ?? false, coordinatorEpoch: fields.coordinatorEpoch, transactionalId: 'tx', topics: [{ topic: TOPIC, partitions: [0] }] }],
      });
    const codeOf = (res: tributary.internal.v1.WriteTxnMarkersResponse): string => tributary.v1.ErrorCode[res.markers[0]?.topics?.[0]?.partitions?.[0]?.error?.code ?? -1] ?? 'none';

    // The marker is answered once committed: every ISR member holds it.
    expect(codeOf(await writeMarker(leader, { coordinatorEpoch: 5 }))).toBe('NONE');
    const fetchCommitted = async (nodeId: number, format: tributary.v1.RecordFormat) => (await call<tributary.v1.IFetchRequest, tributary.v1.FetchResponse>(clients.get(nodeId)!.broker, 'fetch', {
      maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: tributary.v1.IsolationLevel.READ_COMMITTED, format,
      topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
    })).topics[0]!.partitions![0]!;
    const asRecords = await fetchCommitted(leader, tributary.v1.RecordFormat.RECORDS);
    expect(Number(asRecords.highWatermark)).toBe(3);
    expect(Number(asRecords.lastStableOffset)).toBe(3);
    expect((asRecords.records ?? []).map((r) => Buffer.from(r.value!).toString())).toEqual(['r0', 'r1']); // the ABORT marker is no record
    expect(asRecords.abortedTransactions).toEqual([]); // producer 42 had nothing open here: nothing to skip
    const batches = decodeRecordBatches(Buffer.from((await fetchCommitted(leader, tributary.v1.RecordFormat.RECORD_BATCH)).recordBatch!));
    const markerBatch = batches[batches.length - 1]!;
    expect([markerBatch.control, markerBatch.transactional, Number(markerBatch.producerId), markerBatch.producerEpoch, markerBatch.baseOffset]).toEqual([true, true, 42, 1, 2]);
    expect(batches.slice(0, -1).every((b) => !b.control)).toBe(true);

    // A deposed coordinator (older coordinator epoch), a follower, another cluster, hostile fields: refused.
    expect(codeOf(await writeMarker(leader, { coordinatorEpoch: 4 }))).toBe('TRANSACTION_COORDINATOR_FENCED');
    expect(codeOf(await writeMarker(leader, { coordinatorEpoch: 5, producerEpoch: 0 }))).toBe('INVALID_PRODUCER_EPOCH');
    const follower = c.brokers.find((b) => b.nodeId !== leader)!.nodeId;
    expect(codeOf(await writeMarker(follower, { coordinatorEpoch: 6 }))).toBe('NOT_LEADER_OR_FOLLOWER');
    const foreign = await writeMarker(leader, { coordinatorEpoch: 6, clusterId: 'another-cluster' });
    expect(tributary.v1.ErrorCode[foreign.error?.code ?? 0]).toBe('INCONSISTENT_CLUSTER_ID');
    await expect(writeMarker(leader, { coordinatorEpoch: 6, producerEpoch: 40_000 })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });

    // Failover: the new leader learned producer 42's coordinator epoch from the replicated marker.
    await c.kill(leader);
    const next = await leaderWithFullIsr(leader);
    expect(next).not.toBe(leader);
    const fenced = await waitFor('the new leader to answer the marker', async () => {
      const code = codeOf(await writeMarker(next, { coordinatorEpoch: 4 }));
      return code === 'NOT_LEADER_OR_FOLLOWER' ? undefined : code;
    });
    expect(fenced).toBe('TRANSACTION_COORDINATOR_FENCED');
    expect(codeOf(await writeMarker(next, { coordinatorEpoch: 6, producerEpoch: 2, committed: true }))).toBe('NONE');
    const after = await fetchCommitted(next, tributary.v1.RecordFormat.RECORDS);
    expect(Number(after.lastStableOffset)).toBe(Number(after.highWatermark));
    expect((after.records ?? []).map((r) => Buffer.from(r.value!).toString())).toEqual(['r0', 'r1']);
  }, 120_000);
});
