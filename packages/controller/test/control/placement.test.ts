import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeReplicas } from './core.js';
import { seededRandom } from './fixtures.js';

const counts = (xs: readonly number[]): Map<number, number> => {
  const m = new Map<number, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
};

describe('placeReplicas', () => {
  it('spreads replicas and leaders evenly over brokers (rack-unaware)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 9 }), fc.integer(),
      (n, partitions, rfWanted, seed) => {
        const rf = Math.min(rfWanted, n);
        const brokers = Array.from({ length: n }, (_, i) => ({ brokerId: 10 + i * 3, rack: undefined }));
        const out = placeReplicas({ brokers, partitions, replicationFactor: rf, firstPartition: 0, random: seededRandom(seed) });
        expect(out).toHaveLength(partitions);
        for (const replicas of out) {
          expect(replicas).toHaveLength(rf);
          expect(new Set(replicas).size).toBe(rf);
          for (const id of replicas) expect(brokers.some((b) => b.brokerId === id)).toBe(true);
        }
        const leaders = [...counts(out.map((r) => r[0]!)).values()];
        const leaderMin = leaders.length < n ? 0 : Math.min(...leaders);
        expect(Math.max(...leaders) - leaderMin).toBeLessThanOrEqual(1);
        const all = counts(out.flat());
        const perBroker = brokers.map((b) => all.get(b.brokerId) ?? 0);
        const spread = Math.max(...perBroker) - Math.min(...perBroker);
        if (partitions % n === 0) expect(spread).toBe(0);
        else expect(spread).toBeLessThanOrEqual(rf);
      },
    ), { numRuns: 300 });
  });

  it('puts each partition on min(rf, racks) distinct racks and keeps leaders even on even racks', () => {
    fc.assert(fc.property(
      fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer(),
      (racks, perRack, partitions, rfWanted, seed) => {
        const n = racks * perRack;
        const rf = Math.min(rfWanted, n);
        const brokers = Array.from({ length: n }, (_, i) => ({ brokerId: i, rack: `r${i % racks}` }));
        const rackOf = (id: number): string => brokers[id]!.rack;
        const out = placeReplicas({ brokers, partitions, replicationFactor: rf, firstPartition: 0, random: seededRandom(seed) });
        for (const replicas of out) {
          expect(new Set(replicas).size).toBe(rf);
          expect(new Set(replicas.map(rackOf)).size).toBe(Math.min(rf, racks));
        }
        const leaders = [...counts(out.map((r) => r[0]!)).values()];
        const leaderMin = leaders.length < n ? 0 : Math.min(...leaders);
        expect(Math.max(...leaders) - leaderMin).toBeLessThanOrEqual(1);
      },
    ), { numRuns: 300 });
  });

  it('is a function of the seed', () => {
    const brokers = [1, 2, 3, 4].map((brokerId) => ({ brokerId, rack: undefined }));
    const a = placeReplicas({ brokers, partitions: 8, replicationFactor: 3, firstPartition: 0, random: seededRandom(5) });
    const b = placeReplicas({ brokers: [...brokers].reverse(), partitions: 8, replicationFactor: 3, firstPartition: 0, random: seededRandom(5) });
    expect(b).toEqual(a);
  });

  it('refuses a replication factor above the broker count', () => {
    expect(() => placeReplicas({ brokers: [{ brokerId: 1, rack: undefined }], partitions: 1, replicationFactor: 2, firstPartition: 0, random: seededRandom(1) })).toThrow(RangeError);
  });
});
