import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { CompactedError, MemoryStorage, RaftLog, Unstable, type Entry, type Snapshot } from '../../src/internal.js';

const e = (index: number, term: number, s = ''): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(s) });
const terms = (es: readonly Entry[]): string => es.map((x) => `${x.term}/${x.index}`).join(' ');

function logWith(stored: Entry[], unstable: Entry[] = []): { log: RaftLog; st: MemoryStorage } {
  const st = new MemoryStorage();
  st.append(stored);
  const log = new RaftLog(st, 1 << 20);
  log.append(unstable);
  return { log, st };
}

describe('Unstable', () => {
  it('truncateAndAppend: append, replace all, replace a suffix', () => {
    const u = new Unstable(5);
    u.truncateAndAppend([e(5, 1), e(6, 1), e(7, 1)]);
    expect(terms(u.entries)).toBe('1/5 1/6 1/7');
    u.truncateAndAppend([e(7, 2), e(8, 2)]);
    expect(terms(u.entries)).toBe('1/5 1/6 2/7 2/8');
    u.truncateAndAppend([e(4, 3)]);
    expect(u.offset).toBe(4);
    expect(terms(u.entries)).toBe('3/4');
  });

  it('stableTo drops persisted entries only when the term still matches', () => {
    const u = new Unstable(5);
    u.truncateAndAppend([e(5, 1), e(6, 1), e(7, 1)]);
    u.stableTo(6, 2); // persisted an entry that has since been replaced: ignore
    expect(u.offset).toBe(5);
    u.stableTo(6, 1);
    expect(u.offset).toBe(7);
    expect(terms(u.entries)).toBe('1/7');
  });

  it('a pending snapshot answers first/last/term', () => {
    const u = new Unstable(1);
    const snap: Snapshot = { metadata: { index: 9, term: 3, confState: { voters: [1], learners: [] } }, data: new Uint8Array() };
    u.restore(snap);
    expect(u.maybeFirstIndex()).toBe(10);
    expect(u.maybeLastIndex()).toBe(9);
    expect(u.maybeTerm(9)).toBe(3);
    expect(u.maybeTerm(8)).toBeUndefined();
    u.stableSnapTo(9);
    expect(u.snapshot).toBeUndefined();
  });
});

describe('RaftLog', () => {
  it('reads across storage and the unstable tail', () => {
    const { log } = logWith([e(1, 1, 'a'), e(2, 1, 'b')], [e(3, 2, 'c'), e(4, 2, 'd')]);
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(4);
    expect(log.lastTerm()).toBe(2);
    expect(terms(log.slice(1, 5, 100))).toBe('1/1 1/2 2/3 2/4');
    expect(terms(log.slice(2, 4, 1))).toBe('1/2');
    expect(log.persistedLastIndex()).toBe(2);
  });

  it('maybeAppend: rejects a mismatch, truncates a conflict, advances commit to min(commit, last new)', () => {
    const { log } = logWith([e(1, 1), e(2, 1), e(3, 1)]);
    expect(log.maybeAppend(3, 2, 3, [e(4, 2)])).toBeUndefined();
    expect(log.maybeAppend(1, 1, 10, [e(2, 2)])).toBe(2);
    expect(log.lastIndex()).toBe(2);
    expect(log.committed).toBe(2);
    // Entries already present (same terms) do not truncate anything.
    log.append([e(3, 2)]);
    expect(log.maybeAppend(1, 1, 2, [e(2, 2)])).toBe(2);
    expect(log.lastIndex()).toBe(3);
  });

  it('refuses to overwrite committed entries or append with a gap', () => {
    const { log } = logWith([e(1, 1), e(2, 1)]);
    log.commitTo(2);
    expect(() => log.append([e(2, 2)])).toThrow(AssertionError);
    expect(() => log.append([e(5, 2)])).toThrow(AssertionError);
    expect(() => log.maybeAppend(1, 1, 2, [e(2, 3)])).toThrow(AssertionError);
  });

  it('commit: never beyond lastIndex, never backwards', () => {
    const { log } = logWith([e(1, 1), e(2, 1)]);
    expect(() => log.commitTo(3)).toThrow(AssertionError);
    log.commitTo(2);
    log.commitTo(1);
    expect(log.committed).toBe(2);
    expect(() => log.appliedTo(3)).toThrow(AssertionError);
    log.appliedTo(2);
    expect(() => log.appliedTo(1)).toThrow(AssertionError);
  });

  it('maybeCommit only commits an entry of the given term (Figure 8)', () => {
    const { log } = logWith([e(1, 1), e(2, 1), e(3, 3)]);
    expect(log.maybeCommit(2, 3)).toBe(false);
    expect(log.committed).toBe(0);
    expect(log.maybeCommit(3, 3)).toBe(true);
    expect(log.committed).toBe(3);
  });

  it('findConflictByTerm skips every entry with a larger term', () => {
    const { log } = logWith([e(1, 1), e(2, 1), e(3, 2), e(4, 4), e(5, 4), e(6, 5)]);
    expect(log.findConflictByTerm(6, 4)).toBe(5);
    expect(log.findConflictByTerm(6, 3)).toBe(3);
    expect(log.findConflictByTerm(6, 1)).toBe(2);
    expect(log.findConflictByTerm(6, 0)).toBe(0);
    expect(log.findConflictByTerm(99, 9)).toBe(6);
  });

  it('isUpToDate compares last term, then length', () => {
    const { log } = logWith([e(1, 1), e(2, 2)]);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(true);
    expect(log.isUpToDate(1, 2)).toBe(false);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it('reports compaction and serves next committed entries after the snapshot', () => {
    const { log, st } = logWith([e(1, 1, 'a'), e(2, 1, 'b'), e(3, 1, 'c')]);
    log.commitTo(3);
    st.createSnapshot(2, { voters: [1], learners: [] }, new Uint8Array());
    st.compact(2);
    expect(() => log.term(1)).toThrow(CompactedError);
    expect(log.termOrZero(1)).toBe(0);
    expect(log.term(2)).toBe(1);
    expect(terms(log.nextCommittedEntries())).toBe('1/3');
  });

  it('restore jumps to the snapshot', () => {
    const { log } = logWith([e(1, 1)]);
    log.restore({ metadata: { index: 7, term: 3, confState: { voters: [1], learners: [] } }, data: new Uint8Array() });
    expect(log.committed).toBe(7);
    expect(log.lastIndex()).toBe(7);
    expect(log.firstIndex()).toBe(8);
    expect(log.term(7)).toBe(3);
    expect(log.hasNextCommittedEntries()).toBe(false);
  });
});
