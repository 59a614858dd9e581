// Three ReplicaManagers in one process (memory logs), a scripted metadata source and a tiny controller
// doing AlterPartition compare-and-set; followers reach the leader through an in-process transport that
// calls the leader's serveReplicaFetch. Not yet the cluster helper's real brokers (issue 4 wiring).
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRecordBatch } from '@tributary/protocol';
import { ChangeNotifier } from '../../src/change-notifier.js';
import { memoryLogFactory } from '../../src/memory-partition-log.js';
import type { BrokerNode, MetadataView, PartitionInfo, TopicInfo } from '../../src/metadata-view.js';
import { parseNodeConfig } from '../../src/node-config.js';
import { produce } from '../../src/produce.js';
import { ReplicaManager } from '../../src/replica-manager.js';
import type { AlterPartitionClient, AlterPartitionRequest, AlterPartitionResult } from '../../src/replication/alter-partition-client.js';
import type { ReplicaFetchTransport } from '../../src/replication/replica-fetch-transport.js';
import { serveReplicaFetch } from '../../src/replication/replica-service.js';
import { silentLogger } from '../helpers.js';

const IDS = [1, 2, 3];

class Cluster {
  state: PartitionInfo = { topic: 't', topicId: 'T', partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: IDS, isr: IDS };
  readonly down = new Set<number>();
  readonly managers = new Map<number, ReplicaManager>();
  readonly notifiers = new Map<number, ChangeNotifier>();
  readonly metadata: MetadataView;

  constructor() {
    const topic = (): TopicInfo => ({ name: 't', topicId: 'T', internal: false, partitions: [this.state], configs: { 'min.insync.replicas': '2' } });
    this.metadata = {
      clusterId: 'c',
      controller: () => ({ leaderId: 1, term: 1 }),
      brokers: (): BrokerNode[] => IDS.map((nodeId) => ({ nodeId, host: 'h', port: nodeId, rack: undefined, roles: ['broker'], fenced: this.down.has(nodeId) })),
      topics: () => [topic()],
      topic: (name) => (name === 't' ? topic() : undefined),
      partition: (name, p) => (name === 't' && p === 0 ? this.state : undefined),
      producerIdsEnd: () => 0, // no idempotent producers here
    };
  }

  transport(self: number): ReplicaFetchTransport {
    return {
      fetch: async (leader, request, signal) => {
        if (this.down.has(self) || this.down.has(leader.nodeId)) {
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('unreachable');
        }
        const manager = this.managers.get(leader.nodeId)!;
        return serveReplicaFetch(request, { clusterId: 'c', replicas: manager, notifier: this.notifiers.get(leader.nodeId)!, nowMs: Date.now, logger: silentLogger }, signal);
      },
      close: () => undefined,
    };
  }

  alterPartition(): AlterPartitionClient {
    return {
      alterPartition: async (req: AlterPartitionRequest): Promise<AlterPartitionResult> => {
        if (req.leaderEpoch !== this.state.leaderEpoch) return { ok: false, error: 'FENCED_LEADER_EPOCH', message: '' };
        if (req.partitionEpoch !== this.state.partitionEpoch) return { ok: false, error: 'INVALID_UPDATE_VERSION', message: '' };
        if (req.newIsr.some((id) => this.down.has(id))) return { ok: false, error: 'INELIGIBLE_REPLICA', message: '' };
        await this.publish({ ...this.state, isr: [...req.newIsr], partitionEpoch: this.state.partitionEpoch + 1 });
        return { ok: true, partition: this.state };
      },
    };
  }

  async publish(state: PartitionInfo): Promise<void> {
    this.state = state;
    for (const [id, manager] of this.managers) if (!this.down.has(id)) await manager.applyPartitionStates([state], []);
  }

  async start(): Promise<void> {
    for (const id of IDS) {
      const notifier = new ChangeNotifier();
      const config = parseNodeConfig({ flags: { 'node.id': id, listen: '127.0.0.1:0', 'data.dir': `/nonexistent/${id}` }, set: {} });
      const manager = new ReplicaManager({
        nodeId: id, config, metadata: this.metadata, openLog: memoryLogFactory(), notifier, logger: silentLogger, nowMs: Date.now,
        replication: {
          alterPartition: this.alterPartition(), brokerEpoch: () => 1, fetchTransport: this.transport(id),
          config: { replicaLagTimeMaxMs: 400, replicaFetchWaitMaxMs: 100, replicaFetchBackoffMs: 20 },
        },
      });
      manager.start();
      this.managers.set(id, manager);
      this.notifiers.set(id, notifier);
    }
    await this.publish(this.state);
  }

  async produceOne(value: string, timeoutMs = 3000): Promise<{ error: unknown; baseOffset: number }> {
    const leader = this.managers.get(this.state.leader)!;
    const result = await produce({
      acks: -1, timeoutMs,
      topics: [{ topic: 't', partitions: [{ partition: 0, recordBatch: encodeRecordBatch({ records: [{ key: null, value: Buffer.from(value), headers: [], timestamp: 1 }] }), records: [], currentLeaderEpoch: this.state.leaderEpoch }] }],
    }, { replicas: leader, notifier: this.notifiers.get(this.state.leader)!, nowMs: Date.now });
    const p = result.topics[0]!.partitions[0]!;
    return { error: p.error, baseOffset: p.baseOffset };
  }

  async close(): Promise<void> {
    for (const manager of this.managers.values()) await manager.shutdown();
  }
}

async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('replication between three in-process replicas', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('acks=all waits for the ISR; followers replicate and learn the HW', async () => {
    cluster = new Cluster();
    await cluster.start();
    for (let i = 0; i < 5; i++) expect((await cluster.produceOne(`v${i}`)).error).toBeUndefined();
    const c = cluster;
    await eventually(() => IDS.every((id) => c.managers.get(id)!.findPartition('t', 0)!.highWatermark === 5));
    for (const id of IDS) expect(c.managers.get(id)!.findPartition('t', 0)!.logEndOffset).toBe(5);
  });

  it('a stopped follower leaves the ISR after replica.lag.time.max.ms; produces go on; it rejoins once caught up', async () => {
    cluster = new Cluster();
    await cluster.start();
    const c = cluster;
    expect((await c.produceOne('a')).error).toBeUndefined();
    c.down.add(3);
    await eventually(() => !c.state.isr.includes(3));
    expect(c.state.isr).toEqual([1, 2]);
    expect((await c.produceOne('b')).error).toBeUndefined();
    c.down.delete(3);
    await eventually(() => c.state.isr.includes(3));
    await eventually(() => c.managers.get(3)!.findPartition('t', 0)!.logEndOffset === 2);
  });

  it('with two of three down acks=all fails with NOT_ENOUGH_REPLICAS once the ISR shrank', async () => {
    cluster = new Cluster();
    await cluster.start();
    const c = cluster;
    c.down.add(2);
    c.down.add(3);
    const parked = await c.produceOne('lonely', 2000);
    // Either the ISR shrank while it waited (…_AFTER_APPEND) or it timed out; never acknowledged.
    expect((parked.error as { code?: string }).code).toMatch(/NOT_ENOUGH_REPLICAS_AFTER_APPEND|REQUEST_TIMED_OUT/);
    await eventually(() => c.state.isr.length === 1);
    expect(((await c.produceOne('again')).error as { code?: string }).code).toBe('NOT_ENOUGH_REPLICAS');
  });

  it('a new leader truncates the old leader’s unreplicated tail through the diverging epoch', async () => {
    cluster = new Cluster();
    await cluster.start();
    const c = cluster;
    expect((await c.produceOne('x')).error).toBeUndefined();
    await eventually(() => IDS.every((id) => c.managers.get(id)!.findPartition('t', 0)!.highWatermark === 1));
    // Cut leader 1 off, let it append a record nobody fetches, then elect 2 (epoch 1).
    c.down.add(1);
    const old = c.managers.get(1)!.findPartition('t', 0)!;
    await old.appendAsLeader(encodeRecordBatch({ records: [{ key: null, value: Buffer.from('lost'), headers: [], timestamp: 1 }] }), { requiredAcks: 1, nowMs: Date.now() });
    expect(old.logEndOffset).toBe(2);
    await c.publish({ ...c.state, leader: 2, leaderEpoch: 1, partitionEpoch: c.state.partitionEpoch + 1, isr: [2, 3] });
    expect((await c.produceOne('y')).error).toBeUndefined();
    expect((await c.produceOne('z')).error).toBeUndefined();
    c.down.delete(1);
    await c.managers.get(1)!.applyPartitionStates([c.state], []);
    await eventually(() => old.logEndOffset === 3 && old.log.latestEpoch === 1);
    const leaderLog = c.managers.get(2)!.findPartition('t', 0)!.log;
    const a = await old.log.read(0, 1 << 20, { maxOffset: 3, minOneBatch: true });
    const b = await leaderLog.read(0, 1 << 20, { maxOffset: 3, minOneBatch: true });
    expect(a.records.equals(b.records)).toBe(true);
  });
});
