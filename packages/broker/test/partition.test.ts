import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type BatchHeader, batchesIn, encodeRecordBatch, stampBatch, validateBatches } from '@tributary/protocol';
import { computeHighWatermark, MemoryPartitionLog, parseNodeConfig, resolveTopicConfig } from '../src/index.js';
import { ChangeNotifier, Partition } from '../src/internal.js';
import { anyProducerIds, batchOf, silentLogger } from './helpers.js';

const broker = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/unused' } });

function makePartition(leaderEpoch: number, isr: number[] = [1], configs: Record<string, string> = {}): { partition: Partition; hwChanges: () => number } {
  let changes = 0;
  const config = resolveTopicConfig(configs, broker);
  const info = { topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch, partitionEpoch: 0, replicas: [1, 2, 3], isr };
  const partition = new Partition({ nodeId: 1, info, config, log: new MemoryPartitionLog(config), logger: silentLogger, onHighWatermarkChange: () => { changes += 1; }, producerIds: anyProducerIds });
  return { partition, hwChanges: () => changes };
}

describe('computeHighWatermark', () => {
  it('is the minimum LEO over the ISR, never below the current HW nor above the leader LEO', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 1000 }), fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 4 }), fc.integer({ min: 0, max: 1000 }),
      (leaderLeo, followerLeos, hwSeed) => {
        const currentHighWatermark = Math.min(hwSeed, leaderLeo);
        const followers = new Map(followerLeos.map((leo, i) => [i + 2, leo]));
        const isr = [1, ...followers.keys()];
        const hw = computeHighWatermark({ leaderId: 1, leaderLogEndOffset: leaderLeo, followerLogEndOffsets: followers, isr, currentHighWatermark });
        expect(hw).toBeGreaterThanOrEqual(currentHighWatermark);
        expect(hw).toBeLessThanOrEqual(leaderLeo);
        expect(hw).toBe(Math.max(currentHighWatermark, Math.min(leaderLeo, ...followerLeos)));
      },
    ));
  });

  it('holds at the current HW while an ISR member has not reported', () => {
    expect(computeHighWatermark({ leaderId: 1, leaderLogEndOffset: 10, followerLogEndOffsets: new Map(), isr: [1, 2], currentHighWatermark: 4 })).toBe(4);
    expect(computeHighWatermark({ leaderId: 1, leaderLogEndOffset: 10, followerLogEndOffsets: new Map(), isr: [1], currentHighWatermark: 4 })).toBe(10);
  });
});

describe('Partition', () => {
  it('fences clients with an older epoch and rejects a newer one', () => {
    const { partition } = makePartition(5);
    expect(() => partition.checkLeader(4)).toThrow(expect.objectContaining({ code: 'FENCED_LEADER_EPOCH' }));
    expect(() => partition.checkLeader(6)).toThrow(expect.objectContaining({ code: 'UNKNOWN_LEADER_EPOCH' }));
    expect(() => partition.checkLeader(5)).not.toThrow();
    expect(() => partition.checkLeader(-1)).not.toThrow();
  });

  it('advances the HW only as far as the ISR has replicated', async () => {
    const { partition, hwChanges } = makePartition(0, [1, 2]);
    await partition.appendAsLeader(batchOf(['a', 'b', 'c']), { requiredAcks: 1, nowMs: 0 });
    expect([partition.logEndOffset, partition.highWatermark, hwChanges()]).toEqual([3, 0, 0]);
    partition.updateFollowerLogEndOffset(2, 2);
    expect([partition.highWatermark, hwChanges()]).toEqual([2, 1]);
    partition.updateFollowerLogEndOffset(3, 0); // not in the ISR: ignored
    partition.updateFollowerLogEndOffset(2, 3);
    expect(partition.highWatermark).toBe(3);
  });

  it('refuses acks=all with NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas, before appending', async () => {
    const { partition } = makePartition(0, [1], { 'min.insync.replicas': '2' });
    await expect(partition.appendAsLeader(batchOf(['a']), { requiredAcks: -1, nowMs: 0 })).rejects.toMatchObject({ code: 'NOT_ENOUGH_REPLICAS' });
    expect(partition.logEndOffset).toBe(0);
    await partition.appendAsLeader(batchOf(['a']), { requiredAcks: 1, nowMs: 0 });
    expect(partition.logEndOffset).toBe(1);
  });
});

describe('idempotent appends arriving out of sending order', () => {
  // Pipelined requests of one producer are separate gRPC calls: the broker may receive the second
  // before the first. It must never append a batch ahead of the ones it follows.
  const batch = (seq: number, records: number): Buffer => encodeRecordBatch({
    producerId: 3, producerEpoch: 0, baseSequence: seq,
    records: Array.from({ length: records }, (_, i) => ({ key: null, value: Buffer.from(`v${seq + i}`), timestamp: 1_000 })),
  });
  const append = (p: Partition, seq: number, records: number): Promise<{ batchBaseOffsets: readonly number[] }> =>
    p.appendAsLeader(batch(seq, records), { requiredAcks: 1, nowMs: 0 });

  it('refuses an unknown producer\'s first batch unless it starts at sequence 0 (OUT_OF_ORDER_SEQUENCE_NUMBER), appending nothing', async () => {
    const { partition } = makePartition(0);
    await expect(append(partition, 3, 2)).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(partition.logEndOffset).toBe(0);
    expect((await append(partition, 0, 3)).batchBaseOffsets).toEqual([0]);
    expect((await append(partition, 3, 2)).batchBaseOffsets).toEqual([3]); // the retry, now in order
    expect(partition.logEndOffset).toBe(5);
  });

  it('refuses a known producer\'s batch that overtook its predecessor (OUT_OF_ORDER_SEQUENCE_NUMBER); the retry lands after it', async () => {
    const { partition } = makePartition(0);
    await append(partition, 0, 2);
    await expect(append(partition, 4, 1)).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect((await append(partition, 2, 2)).batchBaseOffsets).toEqual([2]);
    expect((await append(partition, 4, 1)).batchBaseOffsets).toEqual([4]);
    expect((await append(partition, 2, 2)).batchBaseOffsets).toEqual([2]); // a duplicate: its offsets, nothing appended
    expect(partition.logEndOffset).toBe(5);
  });
});

describe('leader append: the edge-validated headers travel to the log', () => {
  /** A MemoryPartitionLog that keeps what each leader append was given. */
  class RecordingLog extends MemoryPartitionLog {
    readonly appends: { bytes: Buffer; headers: readonly BatchHeader[] }[] = [];
    override appendAsLeader(batches: Buffer, headers: readonly BatchHeader[], leaderEpoch: number, options: { readonly logAppendTimeMs?: number }) {
      this.appends.push({ bytes: batches, headers });
      return super.appendAsLeader(batches, headers, leaderEpoch, options);
    }
  }
  const idempotent = (seq: number, values: readonly string[]): Buffer => encodeRecordBatch({
    producerId: 3, producerEpoch: 0, baseSequence: seq, records: values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: 1_000 })),
  });
  const make = (): { partition: Partition; log: RecordingLog } => {
    const config = resolveTopicConfig({}, broker);
    const log = new RecordingLog(config);
    const info = { topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1], isr: [1] };
    return { partition: new Partition({ nodeId: 1, info, config, log, logger: silentLogger, onHighWatermarkChange: () => undefined, producerIds: anyProducerIds }), log };
  };

  it('hands the log the very header objects validateBatches returned, not a re-parse', async () => {
    const { partition, log } = make();
    const bytes = Buffer.concat([batchOf(['a', 'b']), batchOf(['c'])]);
    const headers = validateBatches(bytes);
    const appended = await partition.appendAsLeader(bytes, { requiredAcks: 1, nowMs: 0, headers });
    expect(appended.batchBaseOffsets).toEqual([0, 2]);
    expect(log.appends).toHaveLength(1);
    expect(log.appends[0]!.bytes).toBe(bytes);
    expect(log.appends[0]!.headers).toHaveLength(2);
    log.appends[0]!.headers.forEach((h, i) => expect(h).toBe(headers[i]));
  });

  it('a retried prefix is answered from state; the rest goes to the log with headers positioned in its bytes', async () => {
    const { partition, log } = make();
    const first = idempotent(0, ['a', 'b']);
    await partition.appendAsLeader(first, { requiredAcks: 1, nowMs: 0, headers: validateBatches(first) });
    const retry = Buffer.concat([idempotent(0, ['a', 'b']), idempotent(2, ['c', 'd', 'e'])]);
    const appended = await partition.appendAsLeader(retry, { requiredAcks: 1, nowMs: 0, headers: validateBatches(retry) });
    expect(appended.batchBaseOffsets).toEqual([0, 2]);
    expect(partition.logEndOffset).toBe(5);
    const second = log.appends[1]!;
    expect(second.bytes.length).toBe(retry.length - first.length);
    expect(second.headers.map((h) => [h.position, h.sizeBytes, h.baseSequence])).toEqual([[0, second.bytes.length, 2]]);
  });

  it('without headers (tools, tests) the batches are validated in the partition, CRC included', async () => {
    const { partition, log } = make();
    const bytes = batchOf(['a']);
    bytes[bytes.length - 1]! ^= 0xff;
    await expect(partition.appendAsLeader(bytes, { requiredAcks: 1, nowMs: 0 })).rejects.toMatchObject({ errorName: 'CORRUPT_MESSAGE' });
    expect(log.appends).toHaveLength(0);
  });
});

describe('follower: batches of a compacted leader log (offset gaps)', () => {
  /** A batch as a compacted leader serves it: `values` at offsets from `baseOffset`, epoch 3. */
  const served = (baseOffset: number, values: string[]): Buffer => {
    const batch = batchOf(values);
    stampBatch(batch, 0, { baseOffset, partitionLeaderEpoch: 3 });
    return batch;
  };

  it('appends batches starting after its log end offset, skips the ones it holds, and fetches on from the last batch\'s end', async () => {
    const config = resolveTopicConfig({ 'cleanup.policy': 'compact' }, broker);
    const info = { topic: 't', topicId: 'id', partition: 0, leader: 2, leaderEpoch: 3, partitionEpoch: 0, replicas: [1, 2, 3], isr: [1, 2, 3] };
    const partition = new Partition({ nodeId: 1, info, config, log: new MemoryPartitionLog(config), logger: silentLogger, onHighWatermarkChange: () => undefined, producerIds: anyProducerIds });
    const generation = partition.followerFetchState()!.generation;
    // The leader's cleaner removed offsets 0-2 and 5-6.
    await partition.appendFetched(generation, Buffer.concat([served(3, ['a', 'b']), served(7, ['c'])]), 6);
    expect([partition.logEndOffset, partition.highWatermark, partition.followerFetchState()!.fetchOffset]).toEqual([8, 6, 8]);
    // A response starting with batches it already holds (the leader answers from the batch holding the fetch offset).
    await partition.appendFetched(generation, Buffer.concat([served(3, ['a', 'b']), served(7, ['c']), served(10, ['d', 'e'])]), 12);
    expect([partition.logEndOffset, partition.highWatermark]).toEqual([12, 12]);
    const read = await partition.log.read(4, 1 << 20, { maxOffset: 12, minOneBatch: true });
    expect([...batchesIn(read.records, { verifyCrc: true })].map((h) => [h.baseOffset, h.lastOffset])).toEqual([[3, 4], [7, 7], [10, 11]]);
    // A gap offset reads from the next batch.
    const fromGap = await partition.log.read(8, 1 << 20, { maxOffset: 12, minOneBatch: true });
    expect([...batchesIn(fromGap.records, { verifyCrc: true })].map((h) => h.baseOffset)).toEqual([10]);
    // Going back is still refused.
    await expect(partition.appendFetched(generation, served(11, ['x']), 12)).resolves.toBeUndefined(); // held: skipped
    await expect(partition.log.appendAsFollower(served(11, ['x']))).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
  });
});

describe('ChangeNotifier', () => {
  it('wakes waiters on notify, times out, aborts, and releases every waiter', async () => {
    const notifier = new ChangeNotifier(2);
    const woken = notifier.wait(['a', 'b'], 10_000);
    expect(notifier.size).toBe(1);
    notifier.notify('b');
    expect(await woken).toBe('changed');
    expect(notifier.size).toBe(0);
    expect(await notifier.wait(['a'], 20)).toBe('timeout');
    const controller = new AbortController();
    const aborted = notifier.wait(['a'], 10_000, controller.signal);
    controller.abort();
    expect(await aborted).toBe('aborted');
    // Limit: beyond maxWaiters a wait returns 'timeout' at once instead of parking.
    const parked = [notifier.wait(['x'], 10_000), notifier.wait(['y'], 10_000)];
    expect(await notifier.wait(['z'], 10_000)).toBe('timeout');
    notifier.notifyAll();
    expect(await Promise.all(parked)).toEqual(['changed', 'changed']);
    expect(notifier.size).toBe(0);
  });
});
