import { describe, expect, it } from 'vitest';
import { LeaderEpochCache } from '../src/internal.js';

// Log: epoch 0 at [0, 10), epoch 2 at [10, 25), epoch 5 at [25, LEO=40).
function cache(): LeaderEpochCache {
  const c = new LeaderEpochCache();
  c.assign(0, 0);
  c.assign(2, 10);
  c.assign(5, 25);
  return c;
}

describe('leader epoch cache', () => {
  it('endOffsetFor follows Kafka semantics', () => {
    const c = cache();
    expect(c.endOffsetFor(5, 40)).toEqual({ epoch: 5, endOffset: 40 }); // latest epoch → LEO
    expect(c.endOffsetFor(2, 40)).toEqual({ epoch: 2, endOffset: 25 }); // known epoch → next epoch's start
    expect(c.endOffsetFor(3, 40)).toEqual({ epoch: 2, endOffset: 25 }); // unknown epoch → largest ≤ it
    expect(c.endOffsetFor(0, 40)).toEqual({ epoch: 0, endOffset: 10 });
    expect(c.endOffsetFor(6, 40)).toEqual({ epoch: -1, endOffset: -1 }); // newer than all known
    expect(c.endOffsetFor(-1, 40)).toEqual({ epoch: -1, endOffset: -1 });
    expect(new LeaderEpochCache().endOffsetFor(0, 0)).toEqual({ epoch: -1, endOffset: -1 });
    const late = new LeaderEpochCache([{ epoch: 3, startOffset: 5 }]);
    expect(late.endOffsetFor(1, 9)).toEqual({ epoch: 1, endOffset: 5 }); // older than the first epoch
  });

  it('ignores older epochs and replaces an epoch that wrote nothing', () => {
    const c = cache();
    expect(c.assign(4, 30)).toBe(false);
    expect(c.assign(5, 30)).toBe(false);
    expect(c.assign(7, 25)).toBe(true);
    expect(c.list()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 10 }, { epoch: 7, startOffset: 25 }]);
  });

  it('truncates from the end and from the start', () => {
    const end = cache();
    end.truncateFromEnd(25);
    expect(end.list().map((e) => e.epoch)).toEqual([0, 2]);
    end.truncateFromEnd(10);
    expect(end.latestEpoch).toBe(0);
    const start = cache();
    start.truncateFromStart(12);
    expect(start.list()).toEqual([{ epoch: 2, startOffset: 12 }, { epoch: 5, startOffset: 25 }]);
    start.truncateFromStart(25);
    expect(start.list()).toEqual([{ epoch: 5, startOffset: 25 }]);
  });

  it('round-trips its checkpoint text and rejects malformed text', () => {
    const c = cache();
    expect(LeaderEpochCache.parse(c.serialize())!.list()).toEqual(c.list());
    expect(LeaderEpochCache.parse('0\n2\n1 5\n')).toBeNull();
    expect(LeaderEpochCache.parse('0\n2\n3 5\n1 9\n')).toBeNull();
    expect(LeaderEpochCache.parse('garbage')).toBeNull();
  });
});
