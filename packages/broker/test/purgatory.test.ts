// acks=all and long-poll waiting, driven through the domain functions with an ISR larger than this
// node, which a single-node server cannot show: the high watermark waits for followers.
import { describe, expect, it } from 'vitest';
import { memoryLogFactory, parseNodeConfig, type MetadataView, type TopicInfo } from '../src/index.js';
import { ChangeNotifier, ReplicaManager, fetch, produce } from '../src/internal.js';
import { batchOf, silentLogger } from './helpers.js';

async function setup(isr: number[]) {
  const config = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/nonexistent-unused' } });
  const topic: TopicInfo = {
    name: 't', topicId: 'id', internal: false, configs: {},
    partitions: [{ topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2], isr }],
  };
  const metadata: MetadataView = {
    clusterId: 'c', controller: () => ({ leaderId: 1, term: 0 }), brokers: () => [],
    topics: () => [topic], topic: (n) => (n === 't' ? topic : undefined), partition: (n, p) => (n === 't' ? topic.partitions[p] : undefined), producerIdsEnd: () => 0,
  };
  const notifier = new ChangeNotifier();
  const replicas = new ReplicaManager({ nodeId: 1, config, metadata, openLog: memoryLogFactory(), notifier, logger: silentLogger, nowMs: Date.now });
  await replicas.applyChange({ type: 'topicCreated', topic });
  return { replicas, notifier, deps: { replicas, notifier, nowMs: Date.now } };
}

const request = (timeoutMs: number) => ({
  acks: -1, timeoutMs, topics: [{ topic: 't', partitions: [{ partition: 0, recordBatch: batchOf(['a', 'b']), records: [], currentLeaderEpoch: -1 }] }],
});

describe('parked requests', () => {
  it('acks=all times out with REQUEST_TIMED_OUT when the ISR does not catch up, after appending', async () => {
    const { deps, replicas, notifier } = await setup([1, 2]);
    const started = Date.now();
    const result = await produce(request(150), deps);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(result.topics[0]?.partitions[0]?.error).toMatchObject({ code: 'REQUEST_TIMED_OUT' });
    const partition = replicas.getPartition('t', 0);
    expect([partition.logEndOffset, partition.highWatermark, notifier.size]).toEqual([2, 0, 0]);
  });

  it('acks=all is answered as soon as the follower\'s fetch moves the high watermark', async () => {
    const { deps, replicas } = await setup([1, 2]);
    const pending = produce(request(5000), deps);
    await new Promise((r) => setTimeout(r, 50));
    replicas.getPartition('t', 0).updateFollowerLogEndOffset(2, 2);
    const result = await pending;
    expect(result.topics[0]?.partitions[0]).toMatchObject({ error: undefined, baseOffset: 0 });
  });

  it('a long-poll fetch wakes when the high watermark moves, not when the leader alone appends', async () => {
    const { deps, replicas, notifier } = await setup([1, 2]);
    const input = { maxWaitMs: 5000, minBytes: 1, maxBytes: 1 << 20, isolation: 'read_uncommitted' as const, partitions: [{ topic: 't', partition: 0, fetchOffset: 0, partitionMaxBytes: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] };
    const parked = fetch(input, deps);
    await produce({ ...request(0), acks: 1 }, deps);
    await new Promise((r) => setTimeout(r, 50));
    expect(notifier.size).toBe(1); // appended, but not committed: still waiting
    replicas.getPartition('t', 0).updateFollowerLogEndOffset(2, 2);
    const results = await parked;
    expect(results?.[0]?.bytes.length).toBeGreaterThan(0);
    expect(results?.[0]?.highWatermark).toBe(2);
  });

  it('a cancelled fetch releases its waiter', async () => {
    const { deps, notifier } = await setup([1]);
    const controller = new AbortController();
    const input = { maxWaitMs: 5000, minBytes: 1, maxBytes: 1 << 20, isolation: 'read_uncommitted' as const, partitions: [{ topic: 't', partition: 0, fetchOffset: 0, partitionMaxBytes: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] };
    const parked = fetch(input, deps, controller.signal);
    await new Promise((r) => setTimeout(r, 20));
    expect(notifier.size).toBe(1);
    controller.abort();
    expect(await parked).toBeUndefined();
    expect(notifier.size).toBe(0);
  });
});
