import { describe, expect, it } from 'vitest';
import { RecordAccumulator, type PendingRecord } from '../src/accumulator.js';
import { murmur2Partition } from '../src/murmur2.js';
import { StickyPartitionCache, choosePartition } from '../src/partitioner.js';

/** A deterministic RandomInt: cycles through `values` (each taken modulo the bound). */
function scripted(values: number[]): (n: number) => number {
  let i = 0;
  return (n) => values[i++ % values.length]! % n;
}

function record(sizeBytes: number): PendingRecord {
  return { key: null, value: Buffer.alloc(0), headers: [], timestampMs: 0, sizeBytes, complete: () => {} };
}

describe('keyed partitioning', () => {
  it('uses murmur2 of the key and is stable across calls', () => {
    const sticky = new StickyPartitionCache(scripted([0]));
    for (const key of ['a', 'b', 'user-42', 'π']) {
      const k = Buffer.from(key);
      const first = choosePartition({ topic: 't', key: k, explicitPartition: undefined, numPartitions: 7, userPartitioner: undefined, sticky });
      const again = choosePartition({ topic: 't', key: k, explicitPartition: undefined, numPartitions: 7, userPartitioner: undefined, sticky });
      expect(first.partition).toBe(murmur2Partition(k, 7));
      expect(again.partition).toBe(first.partition);
      expect(first.sticky).toBe(false);
    }
  });

  it('explicit partition wins, then a user partitioner', () => {
    const sticky = new StickyPartitionCache(scripted([0]));
    const calls: [string, Buffer | null, number][] = [];
    const user = (topic: string, key: Buffer | null, n: number): number => { calls.push([topic, key, n]); return n - 1; };
    expect(choosePartition({ topic: 't', key: Buffer.from('k'), explicitPartition: 2, numPartitions: 5, userPartitioner: user, sticky }).partition).toBe(2);
    expect(calls).toHaveLength(0);
    expect(choosePartition({ topic: 't', key: null, explicitPartition: undefined, numPartitions: 5, userPartitioner: user, sticky }).partition).toBe(4);
    expect(calls).toEqual([['t', null, 5]]);
  });
});

describe('sticky partitioning for null keys', () => {
  it('sticks to one partition until its batch closes, then switches to a different one', () => {
    const sticky = new StickyPartitionCache(scripted([1, 1, 0, 2]));
    const n = 3;
    const acc = new RecordAccumulator({ batchSizeBytes: 61 + 3 * 10, lingerMs: 1000, deliveryTimeoutMs: 60_000 },
      (topic, partition) => sticky.onBatchClosed(topic, partition, n));
    const chosen: number[] = [];
    for (let i = 0; i < 9; i++) {
      const p = sticky.partition('t', n);
      chosen.push(p);
      acc.append('t', p, record(10), 0);
    }
    // 3 records fill a batch (batch.size); the full batch closes and the sticky partition moves on,
    // never to the same partition twice in a row.
    expect(chosen.slice(0, 3)).toEqual([1, 1, 1]);
    expect(new Set(chosen.slice(3, 6)).size).toBe(1);
    expect(chosen[3]).not.toBe(1);
    expect(new Set(chosen.slice(6, 9)).size).toBe(1);
    expect(chosen[6]).not.toBe(chosen[3]);
  });

  it('switches when the sticky batch is drained (sent) before it is full', () => {
    const sticky = new StickyPartitionCache(scripted([0, 0]));
    const acc = new RecordAccumulator({ batchSizeBytes: 16_384, lingerMs: 0, deliveryTimeoutMs: 60_000 },
      (topic, partition) => sticky.onBatchClosed(topic, partition, 4));
    const p1 = sticky.partition('t', 4);
    acc.append('t', p1, record(10), 0);
    expect(sticky.partition('t', 4)).toBe(p1);
    const { ready } = acc.ready(0, false);
    acc.takeHead(ready[0]!);
    const p2 = sticky.partition('t', 4);
    expect(p2).not.toBe(p1);
  });

  it('keeps the partition when another partition\'s batch closes', () => {
    const sticky = new StickyPartitionCache(scripted([2]));
    const p = sticky.partition('t', 4);
    sticky.onBatchClosed('t', (p + 1) % 4, 4);
    expect(sticky.partition('t', 4)).toBe(p);
  });

  it('spreads over all partitions in the long run', () => {
    const sticky = new StickyPartitionCache();
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const p = sticky.partition('t', 5);
      seen.add(p);
      sticky.onBatchClosed('t', p, 5);
    }
    expect(seen.size).toBe(5);
  });
});
