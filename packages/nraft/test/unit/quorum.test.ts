import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { committedIndex, hasQuorum, quorumSize, voteResult } from '../../src/internal.js';

describe('quorum', () => {
  it('quorum sizes', () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
  });

  it('committed index is the highest index on a majority', () => {
    const m = new Map([[1, 5], [2, 3], [3, 9]]);
    expect(committedIndex([1, 2, 3], (id) => m.get(id))).toBe(5);
    expect(committedIndex([1, 2, 3, 4], (id) => m.get(id))).toBe(3); // 4 unknown counts as 0
    expect(committedIndex([3], (id) => m.get(id))).toBe(9);
    expect(committedIndex([], () => 7)).toBe(0);
  });

  it('committed index: a majority has at least it, and no larger value has a majority (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(100), { minLength: 1, maxLength: 7 }), (matches) => {
        const ids = matches.map((_, i) => i + 1);
        const c = committedIndex(ids, (id) => matches[id - 1]);
        const q = quorumSize(ids.length);
        expect(matches.filter((x) => x >= c).length).toBeGreaterThanOrEqual(q);
        expect(matches.filter((x) => x >= c + 1).length).toBeLessThan(q);
      }),
    );
  });

  it('vote results', () => {
    const voters = new Set([1, 2, 3]);
    expect(voteResult(voters, new Map([[1, true]]))).toBe('pending');
    expect(voteResult(voters, new Map([[1, true], [2, true]]))).toBe('won');
    expect(voteResult(voters, new Map([[1, true], [2, false]]))).toBe('pending');
    expect(voteResult(voters, new Map([[1, true], [2, false], [3, false]]))).toBe('lost');
    // Votes from non-voters (learners, strangers) do not count.
    expect(voteResult(voters, new Map([[1, true], [4, true], [5, true]]))).toBe('pending');
    expect(voteResult(new Set([1, 2, 3, 4]), new Map([[1, true], [2, true]]))).toBe('pending');
    expect(voteResult(new Set([1, 2, 3, 4]), new Map([[1, false], [2, false]]))).toBe('lost');
    expect(voteResult(new Set(), new Map())).toBe('lost');
  });

  it('hasQuorum', () => {
    expect(hasQuorum(new Set([1, 2, 3]), (id) => id !== 3)).toBe(true);
    expect(hasQuorum(new Set([1, 2, 3]), (id) => id === 1)).toBe(false);
    expect(hasQuorum(new Set(), () => true)).toBe(false);
  });
});
