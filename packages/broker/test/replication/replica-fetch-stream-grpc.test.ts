// ReplicaFetchStream over real gRPC on loopback: a leader's Replica service (registerReplicaService over
// a ReplicaManager with in-memory logs) and the follower's stream transport. Pipelined fetches are
// answered in order on one stream; fencing (leader epoch) and divergence (KIP-320 diverging epoch) are
// answered per request while the stream lives on; a leader change mid-stream turns into per-partition
// errors; hostile messages fail that stream alone and the node serves the next one.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRecordBatch, ReplicaClient, ReplicaService, tributary } from '@tributary/protocol';
import { grpcReplicaFetchStreamTransport } from '../../src/adapters/grpc-replica-fetch-stream-transport.js';
import { ChangeNotifier } from '../../src/change-notifier.js';
import { memoryLogFactory } from '../../src/memory-partition-log.js';
import type { BrokerNode, MetadataView, PartitionInfo, TopicInfo } from '../../src/metadata-view.js';
import { parseNodeConfig } from '../../src/node-config.js';
import { ReplicaManager } from '../../src/replica-manager.js';
import type { LeaderEndpoint, ReplicaFetchPartitionRequest, ReplicaFetchRequest, ReplicaFetchTransport } from '../../src/replication/replica-fetch-transport.js';
import { registerReplicaService } from '../../src/replication/replica-service.js';
import { silentLogger } from '../helpers.js';

const MAX_WAIT_MS = 300;

interface Leader {
  readonly manager: ReplicaManager;
  readonly endpoint: LeaderEndpoint;
  readonly server: grpc.Server;
  readonly shutdown: AbortController;
  setState(state: PartitionInfo): Promise<void>;
}

function stateOf(partition: number, leaderEpoch: number, leader = 1): PartitionInfo {
  return { topic: 't', topicId: 'T', partition, leader, leaderEpoch, partitionEpoch: leaderEpoch, replicas: [1, 2], isr: [1, 2] };
}

async function startLeader(partitions: number, options: { streamBytesInFlightMax?: number } = {}): Promise<Leader> {
  const states = new Map<number, PartitionInfo>();
  for (let p = 0; p < partitions; p += 1) states.set(p, stateOf(p, 0));
  const topic = (): TopicInfo => ({ name: 't', topicId: 'T', internal: false, partitions: [...states.values()], configs: { 'min.insync.replicas': '1' } });
  const metadata: MetadataView = {
    clusterId: 'c',
    controller: () => ({ leaderId: 1, term: 1 }),
    brokers: (): BrokerNode[] => [1, 2].map((nodeId) => ({ nodeId, host: '127.0.0.1', port: 1, rack: undefined, roles: ['broker'], fenced: false })),
    topics: () => [topic()],
    topic: (name) => (name === 't' ? topic() : undefined),
    partition: (name, p) => (name === 't' ? states.get(p) : undefined),
    producerIdsEnd: () => 0,
  };
  const notifier = new ChangeNotifier();
  const manager = new ReplicaManager({
    nodeId: 1, config: parseNodeConfig({ flags: { 'node.id': 1, listen: '127.0.0.1:0', 'data.dir': '/nonexistent/1' }, set: {} }),
    metadata, openLog: memoryLogFactory(), notifier, logger: silentLogger, nowMs: Date.now,
    replication: {
      alterPartition: { alterPartition: async () => ({ ok: false, error: 'INVALID_UPDATE_VERSION', message: 'not in this test' }) },
      brokerEpoch: () => 1,
      // This node only leads here (when it follows, it has nobody to fetch from).
      fetchTransport: { fetch: async () => { throw new Error('not in this test'); }, close: () => undefined },
      config: { replicaLagTimeMaxMs: 60_000, replicaFetchWaitMaxMs: MAX_WAIT_MS },
    },
  });
  await manager.applyPartitionStates([...states.values()], []);
  const server = new grpc.Server();
  const shutdown = new AbortController();
  registerReplicaService(server, { clusterId: 'c', replicas: manager, notifier, nowMs: Date.now, logger: silentLogger, shutdownSignal: shutdown.signal, ...options });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))));
  return {
    manager, server, shutdown, endpoint: { nodeId: 1, host: '127.0.0.1', port },
    setState: async (state) => {
      states.set(state.partition, state);
      await manager.applyPartitionStates([state], []);
    },
  };
}

const batch = (count: number): Buffer => encodeRecordBatch({ records: Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`r${i}`), headers: [], timestamp: 1 })) });

async function append(leader: Leader, partition: number, count: number): Promise<void> {
  await leader.manager.findPartition('t', partition)!.appendAsLeader(batch(count), { requiredAcks: 1, nowMs: Date.now() });
}

function fetchRequest(partitions: Partial<ReplicaFetchPartitionRequest>[], options: { maxWaitMs?: number } = {}): ReplicaFetchRequest {
  return {
    replicaId: 2, brokerEpoch: 1, clusterId: 'c', maxWaitMs: options.maxWaitMs ?? MAX_WAIT_MS, minBytes: 1, maxBytes: 1 << 20, partitionMaxBytes: 0,
    partitions: partitions.map((p) => ({ topic: 't', partition: 0, fetchOffset: 0, lastFetchedEpoch: -1, currentLeaderEpoch: 0, logStartOffset: 0, ...p })),
  };
}

/** A raw duplex call, for messages the transport would never send. */
function rawStream(leader: Leader): { call: grpc.ClientDuplexStream<tributary.internal.v1.IReplicaFetchRequest, tributary.internal.v1.ReplicaFetchResponse>; status: Promise<grpc.StatusObject>; answers: tributary.internal.v1.ReplicaFetchResponse[]; client: ReplicaClient } {
  const client = new ReplicaClient(`127.0.0.1:${leader.endpoint.port}`, grpc.credentials.createInsecure());
  const call = client.replicaFetchStream();
  const answers: tributary.internal.v1.ReplicaFetchResponse[] = [];
  call.on('data', (m: tributary.internal.v1.ReplicaFetchResponse) => answers.push(m));
  call.on('error', () => undefined);
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return { call, status, answers, client };
}

describe('ReplicaFetchStream over gRPC', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const open = async (partitions = 1, options: { streamBytesInFlightMax?: number } = {}): Promise<{ leader: Leader; transport: ReplicaFetchTransport }> => {
    const leader = await startLeader(partitions, options);
    const transport = grpcReplicaFetchStreamTransport({ maxReceiveBytes: 16 << 20 });
    cleanups.push(async () => {
      transport.close();
      leader.shutdown.abort();
      leader.server.forceShutdown();
      await leader.manager.shutdown();
    });
    return { leader, transport };
  };

  it('answers pipelined fetches on one stream in the order sent, and a long poll wakes on an append', async () => {
    const { leader, transport } = await open(3);
    for (const p of [0, 1, 2]) await append(leader, p, p + 1);
    const signal = new AbortController().signal;
    // Three fetches written back to back without waiting; each names a different partition.
    const settled: number[] = [];
    const answers = await Promise.all([0, 1, 2].map(async (p) => {
      const res = await transport.fetch(leader.endpoint, fetchRequest([{ partition: p }]), signal);
      settled.push(p);
      return res;
    }));
    expect(settled).toEqual([0, 1, 2]);
    expect(answers.map((a) => a.partitions[0]!.partition)).toEqual([0, 1, 2]);
    expect(answers.map((a) => a.partitions[0]!.records.length)).toEqual([batch(1).length, batch(2).length, batch(3).length]);
    // The follower reports LEO 3 on partition 2 in its next request: the leader's HW follows at once.
    const caughtUp = transport.fetch(leader.endpoint, fetchRequest([{ partition: 2, fetchOffset: 3 }], { maxWaitMs: 10_000 }), signal);
    // That fetch long-polls on the same stream; an append answers it well before its max wait.
    const started = Date.now();
    setTimeout(() => void append(leader, 2, 1), 50);
    const res = await caughtUp;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.partitions[0]!.records.length).toBe(batch(1).length);
    expect(leader.manager.findPartition('t', 2)!.highWatermark).toBe(3);
  });

  it('keeps answering past replica.fetch.stream.max.bytes.in.flight as the transport takes the answers, each cut to the limit', async () => {
    const limit = 4096;
    const { leader, transport } = await open(1, { streamBytesInFlightMax: limit });
    const value = Buffer.alloc(900, 1);
    for (let i = 0; i < 40; i += 1) {
      await leader.manager.findPartition('t', 0)!.appendAsLeader(encodeRecordBatch({ records: [{ key: null, value, headers: [], timestamp: 1 }] }), { requiredAcks: 1, nowMs: Date.now() });
    }
    const signal = new AbortController().signal;
    // 40 batches of ~1 KiB, ten times the limit, fetched one answer at a time over one stream: each
    // answer is cut to the room under the limit, and the stream never stalls (the bytes are released
    // when grpc-js hands them to HTTP/2).
    let offset = 0;
    let answers = 0;
    while (offset < 40) {
      const res = await transport.fetch(leader.endpoint, fetchRequest([{ fetchOffset: offset }], { maxWaitMs: 0 }), signal);
      const records = res.partitions[0]!.records;
      expect(records.length).toBeGreaterThan(0);
      expect(records.length).toBeLessThanOrEqual(limit);
      offset += Math.round(records.length / encodeRecordBatch({ records: [{ key: null, value, headers: [], timestamp: 1 }] }).length);
      answers += 1;
    }
    expect(offset).toBe(40);
    expect(answers).toBeGreaterThanOrEqual(10);
  });

  it('answers a fetch of another cluster with INCONSISTENT_CLUSTER_ID and no partitions', async () => {
    const { leader, transport } = await open();
    await append(leader, 0, 1);
    const res = await transport.fetch(leader.endpoint, { ...fetchRequest([{}], { maxWaitMs: 0 }), clusterId: 'other' }, new AbortController().signal);
    expect(res.error?.code).toBe('INCONSISTENT_CLUSTER_ID');
    expect(res.partitions).toEqual([]);
  });

  it('fences by leader epoch per request, and a leader change mid-stream becomes a per-partition error while the stream lives on', async () => {
    const { leader, transport } = await open();
    await append(leader, 0, 2);
    const signal = new AbortController().signal;
    const ok = await transport.fetch(leader.endpoint, fetchRequest([{}]), signal);
    expect(ok.partitions[0]!.error).toBeUndefined();
    // A fetch parks at the leader's end; meanwhile leadership moves to node 2 (epoch 1).
    const parked = transport.fetch(leader.endpoint, fetchRequest([{ fetchOffset: 2, lastFetchedEpoch: 0 }]), signal);
    await leader.setState(stateOf(0, 1, 2));
    await parked; // answered (by the long poll's end at the latest), not lost
    const notLeader = await transport.fetch(leader.endpoint, fetchRequest([{ fetchOffset: 2, lastFetchedEpoch: 0, currentLeaderEpoch: 1 }]), signal);
    expect(notLeader.partitions[0]!.error?.code).toBe('NOT_LEADER_OR_FOLLOWER');
    // Leadership comes back in epoch 2: an epoch-1 fetch is fenced, an epoch-3 one is too new — same stream.
    await leader.setState(stateOf(0, 2, 1));
    const fenced = await transport.fetch(leader.endpoint, fetchRequest([{ fetchOffset: 2, lastFetchedEpoch: 0, currentLeaderEpoch: 1 }]), signal);
    expect(fenced.partitions[0]!.error?.code).toBe('FENCED_LEADER_EPOCH');
    const tooNew = await transport.fetch(leader.endpoint, fetchRequest([{ fetchOffset: 2, lastFetchedEpoch: 0, currentLeaderEpoch: 3 }]), signal);
    expect(tooNew.partitions[0]!.error?.code).toBe('UNKNOWN_LEADER_EPOCH');
    const current = await transport.fetch(leader.endpoint, fetchRequest([{ fetchOffset: 2, lastFetchedEpoch: 0, currentLeaderEpoch: 2 }], { maxWaitMs: 0 }), signal);
    expect(current.partitions[0]!.error).toBeUndefined();
    expect(current.partitions[0]!.leaderEpoch).toBe(2);
  });

  it('answers a diverged follower with the diverging epoch, and does not count its fetch offset toward the high watermark', async () => {
    const { leader, transport } = await open();
    await append(leader, 0, 3); // offsets 0-2 in epoch 0
    await leader.setState(stateOf(0, 1, 1)); // re-elected: epoch 1 starts at 3
    await append(leader, 0, 2); // offsets 3-4 in epoch 1
    const partition = leader.manager.findPartition('t', 0)!;
    expect(partition.highWatermark).toBe(0);
    const signal = new AbortController().signal;
    // The follower holds offsets 0-3 all in epoch 0: its offset 3 (epoch 0) is not ours (epoch 1).
    const diverged = await transport.fetch(leader.endpoint, fetchRequest([{ fetchOffset: 4, lastFetchedEpoch: 0, currentLeaderEpoch: 1 }]), signal);
    expect(diverged.partitions[0]!.divergingEpoch).toEqual({ epoch: 0, endOffset: 3 });
    expect(diverged.partitions[0]!.records.length).toBe(0);
    // Had the leader taken fetch offset 4 as the follower's LEO, the HW (min over ISR {1, 2}) would be 4.
    expect(partition.highWatermark).toBe(0);
    // Truncated to 3, the follower fetches again on the same stream and gets epoch 1's records; then its LEO counts.
    const fixed = await transport.fetch(leader.endpoint, fetchRequest([{ fetchOffset: 3, lastFetchedEpoch: 0, currentLeaderEpoch: 1 }]), signal);
    expect(fixed.partitions[0]!.divergingEpoch).toBeUndefined();
    expect(fixed.partitions[0]!.records.length).toBe(batch(2).length);
    expect(partition.highWatermark).toBe(3);
  });

  it('fails the stream alone on malformed bytes, a bad field or a change of replica, and serves the next stream', async () => {
    const { leader, transport } = await open();
    await append(leader, 0, 1);
    const signal = new AbortController().signal;
    // 1. Bytes that are not a ReplicaFetchRequest (a raw client without the generated serializer).
    const garbage = new grpc.Client(`127.0.0.1:${leader.endpoint.port}`, grpc.credentials.createInsecure());
    cleanups.push(() => garbage.close());
    const raw = garbage.makeBidiStreamRequest('/tributary.internal.v1.Replica/ReplicaFetchStream', (b: Buffer) => b, (b: Buffer) => b);
    raw.on('data', () => undefined);
    raw.on('error', () => undefined);
    const rawStatus = new Promise<grpc.StatusObject>((resolve) => raw.on('status', resolve));
    raw.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])); // field 1, a length past the end
    expect((await rawStatus).code).not.toBe(grpc.status.OK);
    // 2. Well-formed protobuf, hostile fields: each fails its own stream with INVALID_ARGUMENT naming the field.
    const hostile: [tributary.internal.v1.IReplicaFetchRequest, RegExp][] = [
      [{ ...fetchRequest([{}]), replicaId: -1 }, /replica_id/],
      [fetchRequest([{ partition: -1 }]), /partitions\[0\]\.partition/],
      [fetchRequest([{ fetchOffset: -5 }]), /partitions\[0\]\.fetch_offset/],
      [fetchRequest([{ topic: '' }]), /partitions\[0\]\.topic/],
      [{ ...fetchRequest([]), partitions: Array.from({ length: 10_001 }, () => ({ topic: 't', partition: 0 })) }, /partitions/],
      [{ ...fetchRequest([{}]), correlationId: 0 }, /correlation_id/],
    ];
    for (const [message, field] of hostile) {
      const s = rawStream(leader);
      cleanups.push(() => s.client.close());
      s.call.write({ correlationId: 1, ...message });
      const status = await s.status;
      expect(status.code, String(field)).toBe(grpc.status.INVALID_ARGUMENT);
      expect(status.details).toMatch(field);
    }
    // 3. A stream that first speaks for replica 2, then for replica 3.
    const switcher = rawStream(leader);
    cleanups.push(() => switcher.client.close());
    switcher.call.write({ ...fetchRequest([{}], { maxWaitMs: 0 }), correlationId: 1 });
    switcher.call.write({ ...fetchRequest([{}], { maxWaitMs: 0 }), replicaId: 3, correlationId: 2 });
    const switched = await switcher.status;
    expect(switched.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(switched.details).toMatch(/replica 2, got 3/);
    // The node is unharmed: a fresh stream is served.
    const res = await transport.fetch(leader.endpoint, fetchRequest([{}], { maxWaitMs: 0 }), signal);
    expect(res.partitions[0]!.records.length).toBe(batch(1).length);
  });

  it('a fetch outstanding when the leader shuts down settles at once (the stream ends), not after its max wait', async () => {
    const { leader, transport } = await open();
    const signal = new AbortController().signal;
    const parked = transport.fetch(leader.endpoint, fetchRequest([{}], { maxWaitMs: 20_000 }), signal);
    const outcome = parked.then(() => 'answered', (err: Error) => err.message);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    leader.shutdown.abort();
    // Either the long poll was cut short (answered empty) and the stream ended, or the end came first.
    await outcome;
    expect(Date.now() - started).toBeLessThan(10_000);
    // A stopping node ends every new stream at once, too.
    await expect(transport.fetch(leader.endpoint, fetchRequest([{}], { maxWaitMs: 0 }), signal)).rejects.toThrow(/ended the fetch stream/);
    // And the server's graceful shutdown is not held up by the follower's long-lived stream.
    const stopping = Date.now();
    await new Promise<void>((resolve) => leader.server.tryShutdown(() => resolve()));
    expect(Date.now() - stopping).toBeLessThan(5000);
  });

  it('the follower breaks a stream on which the leader answers a fetch twice, and opens a new one', async () => {
    // A misbehaving leader: two answers per request.
    let streamsOpened = 0;
    const server = new grpc.Server();
    server.addService(ReplicaService, {
      replicaFetch: (_call: unknown, callback: grpc.sendUnaryData<tributary.internal.v1.IReplicaFetchResponse>) => callback({ code: grpc.status.UNIMPLEMENTED }),
      writeTxnMarkers: (_call: unknown, callback: grpc.sendUnaryData<tributary.internal.v1.IWriteTxnMarkersResponse>) => callback({ code: grpc.status.UNIMPLEMENTED }),
      replicaFetchStream: (call: grpc.ServerDuplexStream<tributary.internal.v1.ReplicaFetchRequest, tributary.internal.v1.IReplicaFetchResponse>) => {
        streamsOpened += 1;
        call.on('data', (req: tributary.internal.v1.ReplicaFetchRequest) => {
          call.write({ correlationId: req.correlationId, partitions: [{ topic: 't', partition: 0, highWatermark: 1 }] });
          call.write({ correlationId: req.correlationId, partitions: [{ topic: 't', partition: 0, highWatermark: 2 }] });
        });
        call.on('error', () => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))));
    const transport = grpcReplicaFetchStreamTransport({ maxReceiveBytes: 1 << 20 });
    cleanups.push(() => {
      transport.close();
      server.forceShutdown();
    });
    const endpoint = { nodeId: 9, host: '127.0.0.1', port };
    const signal = new AbortController().signal;
    const first = await transport.fetch(endpoint, fetchRequest([{}]), signal);
    expect(first.partitions[0]!.highWatermark).toBe(1);
    // The second answer to the first request arrives with nobody waiting, or while the next fetch
    // waits (its correlation id differs): either way that stream is dropped, and the next fetch is
    // answered on a new stream by its own first answer, never by the stray one.
    const deadline = Date.now() + 10_000;
    while (streamsOpened < 2) {
      if (Date.now() > deadline) throw new Error('no second stream');
      const next = await transport.fetch(endpoint, fetchRequest([{}]), signal).catch(() => undefined);
      if (next !== undefined) expect(next.partitions[0]!.highWatermark).toBe(1);
    }
    expect(streamsOpened).toBe(2);
  });
});
