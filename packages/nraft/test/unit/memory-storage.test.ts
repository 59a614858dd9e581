import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { CompactedError, MemoryStorage, SnapshotOutOfDateError, UnavailableError, type Entry } from '../../src/index.js';

const e = (index: number, term: number, s = ''): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(s) });

describe('MemoryStorage', () => {
  it('starts empty with the bootstrap membership', () => {
    const st = new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } });
    expect(st.firstIndex()).toBe(1);
    expect(st.lastIndex()).toBe(0);
    expect(st.term(0)).toBe(0);
    expect(st.initialState().confState.voters).toEqual([1, 2, 3]);
    expect(() => st.entries(1, 2, 100)).toThrow(UnavailableError);
  });

  it('appends, overwrites a conflicting tail, and refuses gaps', () => {
    const st = new MemoryStorage();
    st.append([e(1, 1), e(2, 1), e(3, 1)]);
    st.append([e(2, 2)]);
    expect(st.lastIndex()).toBe(2);
    expect(st.term(2)).toBe(2);
    expect(() => st.append([e(5, 2)])).toThrow(AssertionError);
    expect(() => st.append([e(3, 2), e(5, 2)])).toThrow(AssertionError);
  });

  it('entries honours [lo, hi) and the byte limit but returns at least one', () => {
    const st = new MemoryStorage();
    st.append([e(1, 1, 'aaaa'), e(2, 1, 'bbbb'), e(3, 1, 'cccc')]);
    expect(st.entries(1, 4, 100).map((x) => x.index)).toEqual([1, 2, 3]);
    expect(st.entries(1, 4, 8).map((x) => x.index)).toEqual([1, 2]);
    expect(st.entries(2, 4, 1).map((x) => x.index)).toEqual([2]);
    expect(() => st.entries(2, 5, 100)).toThrow(UnavailableError);
  });

  it('snapshots, compacts, and reports compacted indexes', () => {
    const st = new MemoryStorage({ confState: { voters: [1], learners: [] } });
    st.append([e(1, 1), e(2, 1), e(3, 2), e(4, 2)]);
    const snap = st.createSnapshot(3, { voters: [1, 2], learners: [] }, new Uint8Array([9]));
    expect(snap.metadata).toEqual({ index: 3, term: 2, confState: { voters: [1, 2], learners: [] } });
    st.compact(3);
    expect(st.firstIndex()).toBe(4);
    expect(st.lastIndex()).toBe(4);
    expect(st.term(3)).toBe(2);
    expect(() => st.term(2)).toThrow(CompactedError);
    expect(() => st.entries(3, 5, 100)).toThrow(CompactedError);
    expect(() => st.compact(3)).toThrow(CompactedError);
    expect(() => st.createSnapshot(2, { voters: [1], learners: [] }, new Uint8Array())).toThrow(SnapshotOutOfDateError);
    // Appending entries that start inside the compacted range keeps only the new part.
    st.append([e(3, 2), e(4, 2), e(5, 3)]);
    expect(st.lastIndex()).toBe(5);
    expect(st.firstIndex()).toBe(4);
  });

  it('applySnapshot replaces the log and refuses older snapshots', () => {
    const st = new MemoryStorage();
    st.append([e(1, 1), e(2, 1)]);
    st.applySnapshot({ metadata: { index: 10, term: 4, confState: { voters: [1, 2, 3], learners: [4] } }, data: new Uint8Array() });
    expect(st.firstIndex()).toBe(11);
    expect(st.lastIndex()).toBe(10);
    expect(st.term(10)).toBe(4);
    expect(st.initialState().confState.learners).toEqual([4]);
    expect(() =>
      st.applySnapshot({ metadata: { index: 9, term: 4, confState: { voters: [1], learners: [] } }, data: new Uint8Array() }),
    ).toThrow(SnapshotOutOfDateError);
  });
});
