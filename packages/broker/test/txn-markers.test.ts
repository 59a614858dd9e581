// Markers through the ReplicaManager (wait until committed, then tell the listeners), PartitionTransactions
// (the coordinator's TxnMarkerWriter, DescribeProducers, AbortTransaction), the produce path with a
// transactional id and the ReplicaManager's TxnVerifier, read_committed long-polls woken by a marker, and
// the WriteTxnMarkers edge (every field hostile). Partitions with an ISR of two on one node, so the high
// watermark waits for a follower the test moves by hand.
import { describe, expect, it } from 'vitest';
import { encodeRecordBatch, tributary } from '@tributary/protocol';
import { memoryLogFactory, parseNodeConfig, type MetadataView, type TopicInfo } from '../src/index.js';
import { ChangeNotifier, decodeProduceRequest, fetch, partitionKey, produce, ReplicaManager } from '../src/internal.js';
import { PartitionTransactions } from '../src/partition-transactions.js';
import { decodeWriteTxnMarkers, serveWriteTxnMarkers } from '../src/replication/replica-service.js';
import type { TxnMarkerWritten, TxnVerifyInput } from '../src/transactions/txn-ports.js';
import { silentLogger } from './helpers.js';

/** Polls `condition` until it holds; throws naming `what` after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function setup(isr: number[] = [1, 2]) {
  const config = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/nonexistent-unused' } });
  const partitions = [0, 1].map((partition) => ({ topic: 't', topicId: 'id', partition, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2], isr }));
  const topic: TopicInfo = { name: 't', topicId: 'id', internal: false, configs: {}, partitions };
  const metadata: MetadataView = {
    clusterId: 'c', controller: () => ({ leaderId: 1, term: 0 }), brokers: () => [],
    topics: () => [topic], topic: (n) => (n === 't' ? topic : undefined), partition: (n, p) => (n === 't' ? topic.partitions[p] : undefined), producerIdsEnd: () => 1000,
  };
  const notifier = new ChangeNotifier();
  const verifies: TxnVerifyInput[] = [];
  const replicas = new ReplicaManager({
    nodeId: 1, config, metadata, openLog: memoryLogFactory(), notifier, logger: silentLogger, nowMs: Date.now,
    txnVerifier: { verify: async (input) => { verifies.push(input); return undefined; } },
  });
  await replicas.applyChange({ type: 'topicCreated', topic });
  const markers: TxnMarkerWritten[] = [];
  replicas.addTxnMarkerListener((m) => markers.push(m));
  return { replicas, notifier, verifies, markers, deps: { replicas, notifier, nowMs: Date.now } };
}

const txnRequest = (partition: number, baseSequence: number, values: string[], producerEpoch = 0) => ({
  acks: 1, timeoutMs: 1000, transactionalId: 'tx',
  topics: [{ topic: 't', partitions: [{ partition, recordBatch: encodeRecordBatch({ producerId: 7, producerEpoch, baseSequence, transactional: true, records: values.map((v) => ({ value: Buffer.from(v), timestamp: 1 })) }), records: [], currentLeaderEpoch: -1 }] }],
});
const marker = (overrides: Partial<{ producerEpoch: number; committed: boolean; coordinatorEpoch: number; partitions: { topic: string; partition: number }[] }> = {}) => ({
  transactionalId: 'tx', producerId: 7, producerEpoch: 1, committed: true, coordinatorEpoch: 0, partitions: [{ topic: 't', partition: 0 }], ...overrides,
});

describe('markers through the replica manager', () => {
  it('answer once committed (the high watermark past the marker), then tell the listeners', async () => {
    const { replicas, notifier, markers, verifies, deps } = await setup();
    const produced = await produce(txnRequest(0, 0, ['a', 'b']), deps);
    expect(produced.topics[0]?.partitions[0]?.error).toBeUndefined();
    expect(verifies).toEqual([{ transactionalId: 'tx', producerId: 7, producerEpoch: 0, topic: 't', partition: 0 }]);
    const writers = new PartitionTransactions({ replicas, nowMs: Date.now });
    const pending = writers.writeMarkers(marker());
    // The write parks on the notifier once the marker is written and found uncommitted (a listener told
    // before that ends the wait too, and fails below).
    await waitFor('the marker write to wait for the high watermark', () => notifier.size === 1 || markers.length > 0);
    expect(replicas.getPartition('t', 0).logEndOffset).toBe(3);
    expect(markers).toEqual([]); // written, not committed
    replicas.getPartition('t', 0).updateFollowerLogEndOffset(2, 3);
    expect(await pending).toEqual(new Map([['t-0', undefined]]));
    expect(markers).toEqual([{ topic: 't', partition: 0, producerId: 7, producerEpoch: 1, committed: true, offset: 2 }]);
  });

  it('time out (REQUEST_TIMED_OUT, retriable) when the follower does not catch up, and answer each partition alone', async () => {
    const { replicas, markers } = await setup();
    const writers = new PartitionTransactions({ replicas, nowMs: Date.now, markerCommitTimeoutMs: 100 });
    const results = await writers.writeMarkers(marker({ partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 9 }, { topic: 'other', partition: 0 }] }));
    expect(results).toEqual(new Map([['t-0', 'REQUEST_TIMED_OUT'], ['t-9', 'UNKNOWN_TOPIC_OR_PARTITION'], ['other-0', 'UNKNOWN_TOPIC_OR_PARTITION']]));
    expect(markers).toEqual([]);
  });

  it('answer NOT_LEADER_OR_FOLLOWER when leadership moves before the marker is committed', async () => {
    const { replicas, notifier } = await setup();
    const pending = replicas.writeTxnMarker({ topic: 't', partition: 0, producerId: 7, producerEpoch: 0, committed: false, coordinatorEpoch: 0 }, { timeoutMs: 5000 });
    await waitFor('the marker write to wait for the high watermark', () => notifier.size === 1);
    const partition = replicas.getPartition('t', 0);
    partition.updateInfo({ ...partition.partitionInfo, leader: 2, leaderEpoch: 1 });
    notifier.notify(partitionKey('t', 0));
    await expect(pending).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
  });

  it('DescribeProducers shows the open transaction; AbortTransaction ends it with an ABORT marker', async () => {
    const { replicas, deps } = await setup([1]);
    await produce(txnRequest(1, 0, ['a']), deps);
    const writers = new PartitionTransactions({ replicas, nowMs: Date.now });
    const described = await writers.describeProducers({ topics: [{ topic: 't', partitions: [1, 5] }] });
    expect(described.topics?.[0]?.partitions?.[0]?.activeProducers).toEqual([{ producerId: 7, producerEpoch: 0, lastSequence: 0, lastTimestampMs: 1, coordinatorEpoch: -1, currentTxnStartOffset: 0 }]);
    expect(described.topics?.[0]?.partitions?.[1]?.error?.code).toBe(tributary.v1.ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(replicas.getPartition('t', 1).lastStableOffset).toBe(0);
    const stale = await writers.abortTransaction({ topic: 't', partition: 1, producerId: 7, producerEpoch: 0, coordinatorEpoch: 0 });
    expect(stale.error?.code).toBe(tributary.v1.ErrorCode.NONE);
    expect(replicas.getPartition('t', 1).lastStableOffset).toBe(2);
    expect(await replicas.getPartition('t', 1).log.abortedTransactions(0, 10)).toEqual([{ producerId: 7, firstOffset: 0, lastOffset: 1, lastStableOffset: 2 }]);
    const fenced = await writers.abortTransaction({ topic: 't', partition: 1, producerId: 7, producerEpoch: 0, coordinatorEpoch: -5 });
    expect(fenced.error?.code).toBe(tributary.v1.ErrorCode.INVALID_REQUEST);
  });

  it('a read_committed long-poll parked on an open transaction wakes when the marker is committed', async () => {
    const { replicas, notifier, deps } = await setup();
    await produce(txnRequest(0, 0, ['a']), deps);
    const partition = replicas.getPartition('t', 0);
    partition.updateFollowerLogEndOffset(2, 1);
    expect([partition.highWatermark, partition.lastStableOffset]).toEqual([1, 0]);
    const input = { maxWaitMs: 10_000, minBytes: 1, maxBytes: 1 << 20, isolation: 'read_committed' as const, partitions: [{ topic: 't', partition: 0, fetchOffset: 0, partitionMaxBytes: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] };
    const started = Date.now();
    const parked = fetch(input, deps);
    const written = replicas.writeTxnMarker({ topic: 't', partition: 0, producerId: 7, producerEpoch: 1, committed: true, coordinatorEpoch: 0 }, { timeoutMs: 5000 });
    // Both parked: the fetch on the open transaction, the marker write (marker in the log) on its commit.
    await waitFor('the fetch and the marker write to park', () => notifier.size === 2);
    expect([partition.logEndOffset, partition.highWatermark]).toEqual([2, 1]); // the marker is written, not committed
    partition.updateFollowerLogEndOffset(2, 2);
    const results = await parked;
    await written;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(results?.[0]).toMatchObject({ lastStableOffset: 2, highWatermark: 2, abortedTransactions: [] });
    expect(results?.[0]?.bytes.length).toBeGreaterThan(0);
  });
});

describe('WriteTxnMarkers at the edge', () => {
  const valid = { clusterId: 'c', coordinatorId: 1, markers: [{ producerId: 7, producerEpoch: 1, committed: true, coordinatorEpoch: 3, transactionalId: 'tx', topics: [{ topic: 't', partitions: [0, 1] }] }] };

  it('decodes a valid request', () => {
    expect(decodeWriteTxnMarkers(valid)).toEqual({ clusterId: 'c', markers: [{ transactionalId: 'tx', producerId: 7, producerEpoch: 1, committed: true, coordinatorEpoch: 3, partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] }] });
  });

  it('refuses every hostile field, naming it', () => {
    const m = valid.markers[0]!;
    const bad = (marker: object) => () => decodeWriteTxnMarkers({ ...valid, markers: [{ ...m, ...marker }] });
    expect(bad({ producerId: -1 })).toThrow(/markers\[0\]\.producer_id/);
    expect(bad({ producerId: 2 ** 60 })).toThrow(/producer_id/);
    expect(bad({ producerEpoch: 32768 })).toThrow(/producer_epoch/);
    expect(bad({ producerEpoch: -1 })).toThrow(/producer_epoch/);
    expect(bad({ coordinatorEpoch: -1 })).toThrow(/coordinator_epoch/);
    expect(bad({ transactionalId: 'x'.repeat(40_000) })).toThrow(/transactional_id/);
    expect(bad({ topics: [{ topic: '', partitions: [0] }] })).toThrow(/topics\[0\]\.topic/);
    expect(bad({ topics: [{ topic: 't', partitions: [-1] }] })).toThrow(/partitions\[0\]/);
    expect(bad({ topics: [{ topic: 't', partitions: [0, 0] }] })).toThrow(/named twice/);
    expect(() => decodeWriteTxnMarkers({ ...valid, markers: Array.from({ length: 1001 }, () => m) })).toThrow(/at most 1000/);
    expect(() => decodeWriteTxnMarkers({ ...valid, markers: [{ ...m, topics: [{ topic: 't', partitions: Array.from({ length: 10_001 }, (_, i) => i) }] }] })).toThrow(/partitions in all/);
  });

  it('refuses another cluster\'s coordinator as a whole (INCONSISTENT_CLUSTER_ID), writing nothing', async () => {
    let calls = 0;
    const res = await serveWriteTxnMarkers(decodeWriteTxnMarkers({ ...valid, clusterId: 'other' }), { clusterId: 'c', txnMarkers: { writeMarkers: async () => { calls += 1; return new Map(); } } });
    expect(res.error?.code).toBe(tributary.v1.ErrorCode.INCONSISTENT_CLUSTER_ID);
    expect(calls).toBe(0);
  });

  it('a coordinator calling the writer directly is held to the same partition bound', async () => {
    const { replicas } = await setup([1]);
    const writers = new PartitionTransactions({ replicas, nowMs: Date.now });
    const partitions = Array.from({ length: 10_001 }, (_, i) => ({ topic: 't', partition: i }));
    const results = await writers.writeMarkers(marker({ partitions }));
    expect(new Set(results.values())).toEqual(new Set(['INVALID_REQUEST']));
    expect(replicas.getPartition('t', 0).logEndOffset).toBe(0);
  });

  it('Produce\'s transactional_id is bounded too', () => {
    const config = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/unused' } });
    const req = (transactionalId: string) => tributary.v1.ProduceRequest.create({ acks: 1, transactionalId, topics: [{ topic: 't', partitions: [{ partition: 0, recordBatch: Buffer.from([1]) }] }] });
    expect(decodeProduceRequest(req('tx'), config).transactionalId).toBe('tx');
    expect(decodeProduceRequest(req(''), config).transactionalId).toBeUndefined();
    expect(() => decodeProduceRequest(req('x'.repeat(32_768)), config)).toThrow(/transactional_id/);
  });

  it('answers per partition', async () => {
    const res = await serveWriteTxnMarkers(decodeWriteTxnMarkers(valid), {
      clusterId: 'c', txnMarkers: { writeMarkers: async () => new Map([['t-0', undefined], ['t-1', 'NOT_LEADER_OR_FOLLOWER' as const]]) },
    });
    expect(res.markers?.[0]?.topics?.[0]?.partitions?.map((p) => [p.partition, p.error?.code])).toEqual([[0, 0], [1, tributary.v1.ErrorCode.NOT_LEADER_OR_FOLLOWER]]);
  });
});
