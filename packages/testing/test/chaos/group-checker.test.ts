// The groups workload's checks against hand-made histories: a clean hand-over passes; a commit or
// offset fetch below an acknowledged commit, a takeover that rereads committed records or skips
// uncommitted ones, a final commit over records no member read, and a stuck group are each caught.
import { describe, expect, it } from 'vitest';
import { checkHistory, type HistoryOp, type ViolationKind } from '@tributary/testing';

const T = 'q';
type Op = Omit<HistoryOp, 'time'>;

function send(value: string, partition: number, offset: number): Op[] {
  const process = value.split('-')[0] as string;
  return [
    { process, type: 'invoke', f: 'send', value, node: 1, topic: T, partition },
    { process, type: 'ok', f: 'send', value, node: 1, topic: T, partition, offset },
  ];
}
/** Member `g<n>` takes partition 0 (span k) and fetched `committed` right after. */
function take(member: string, k: number, committed: number | null, known = true): Op {
  return { process: `${member}:p0:a${k}`, type: 'ok', f: 'group-assign', value: { known, committed }, node: null, topic: T, partition: 0 };
}
function read(member: string, k: number, offset: number, value: string): Op {
  return { process: `${member}:p0:a${k}`, type: 'ok', f: 'read', value, node: null, topic: T, partition: 0, offset };
}
function commit(member: string, offset: number, outcome: 'ok' | 'fail' | 'info' = 'ok'): Op[] {
  const value = [{ partition: 0, offset }];
  return [
    { process: member, type: 'invoke', f: 'group-commit', value, node: null, topic: T },
    { process: member, type: outcome, f: 'group-commit', value, node: null, topic: T },
  ];
}
function fetched(process: string, offset: number | null): Op[] {
  return [
    { process, type: 'invoke', f: 'offset-fetch', value: null, node: null, topic: T },
    { process, type: 'ok', f: 'offset-fetch', value: [{ partition: 0, offset }], node: null, topic: T },
  ];
}
/** The parts, then a final reader that reads every record of records() (so nothing is lost). */
function history(...parts: (Op | Op[])[]): HistoryOp[] {
  const finalRead: Op[] = [0, 1, 2, 3].map((offset) => ({ process: 'final-reader', type: 'ok', f: 'read', value: `p1-${offset}`, node: null, topic: T, partition: 0, offset }));
  return [...parts.flat(), ...finalRead].map((op, time) => ({ ...op, time }));
}
const kinds = (h: HistoryOp[]): ViolationKind[] => [...new Set(checkHistory(h).violations.map((v) => v.kind))].sort();

const records = (): Op[] => [...send('p1-0', 0, 0), ...send('p1-1', 0, 1), ...send('p1-2', 0, 2), ...send('p1-3', 0, 3)];

/** g1 reads 0-1 and commits 2; g2 takes over from 2, reads 2-3, commits 4; the final fetch says 4. */
function handOver(): Op[][] {
  return [
    records(),
    [take('g1', 1, null), read('g1', 1, 0, 'p1-0'), read('g1', 1, 1, 'p1-1')], commit('g1', 2),
    [take('g2', 1, 2), read('g2', 1, 2, 'p1-2'), read('g2', 1, 3, 'p1-3')], commit('g2', 4),
    fetched('groups-final', 4),
  ];
}

describe('checkGroups (through checkHistory)', () => {
  it('passes a clean hand-over and counts it', () => {
    const result = checkHistory(history(...handOver()));
    expect(result.violations).toEqual([]);
    expect(result.counts.groups).toEqual({ commitsOk: 2, commitsFailed: 0, commitsIndeterminate: 0, offsetFetchesOk: 1, spans: 2, groupReads: 4 });
  });

  it('catches a committed offset going backwards: a later commit or a fetch below an acknowledged commit', () => {
    expect(kinds(history(...handOver(), commit('g3', 3)))).toEqual(['group-offset-regression']);
    expect(kinds(history(...handOver(), fetched('g3', 3)))).toEqual(['group-offset-regression']);
    expect(kinds(history(...handOver(), fetched('g3', null)))).toEqual(['group-offset-regression']);
    // A refused or indeterminate lower commit proves nothing; nor does a fetch that began before the commit ended.
    expect(kinds(history(...handOver(), commit('g3', 1, 'fail'), commit('g3', 1, 'info')))).toEqual([]);
    const overlapping = history(
      records(), take('g1', 1, null), read('g1', 1, 0, 'p1-0'), read('g1', 1, 1, 'p1-1'),
      { process: 'g2', type: 'invoke', f: 'offset-fetch', value: null, node: null, topic: T },
      commit('g1', 2),
      { process: 'g2', type: 'ok', f: 'offset-fetch', value: [{ partition: 0, offset: null }], node: null, topic: T },
    );
    expect(kinds(overlapping)).toEqual([]);
  });

  it('catches a new owner that rereads committed records or skips uncommitted ones', () => {
    const reread = history(records(), take('g1', 1, null), read('g1', 1, 0, 'p1-0'), read('g1', 1, 1, 'p1-1'), commit('g1', 2),
      take('g2', 1, 2), read('g2', 1, 1, 'p1-1'));
    expect(kinds(reread)).toEqual(['group-reprocessed']);
    const skipped = history(records(), take('g1', 1, null), read('g1', 1, 0, 'p1-0'), commit('g1', 1),
      take('g2', 1, 1), read('g2', 1, 2, 'p1-2'));
    expect(kinds(skipped)).toEqual(['group-skipped']);
    // No committed offset: the owner starts at the log start (earliest).
    expect(kinds(history(records(), take('g1', 1, null), read('g1', 1, 1, 'p1-1')))).toEqual(['group-skipped']);
    // An unknown committed offset (the fetch timed out) checks nothing about the start.
    expect(kinds(history(records(), take('g1', 1, null, false), read('g1', 1, 1, 'p1-1')))).toEqual([]);
  });

  it('catches a final commit above records no member read, and a group that never caught up', () => {
    const overCommitted = history(records(), take('g1', 1, null), read('g1', 1, 0, 'p1-0'), commit('g1', 4), fetched('groups-final', 4));
    expect(kinds(overCommitted)).toEqual(['group-skipped']);
    const stalled = history(...handOver(),
      { process: 'groups-drain', type: 'invoke', f: 'group-drain', value: [{ partition: 0, offset: 5 }], node: null, topic: T },
      { process: 'groups-drain', type: 'fail', f: 'group-drain', value: [{ partition: 0, offset: 5, committed: 4 }], node: null, topic: T, error: 'timeout' });
    expect(kinds(stalled)).toEqual(['group-stalled']);
  });

  it('checks reads within one ownership span like any consumer: no going back, nothing skipped', () => {
    const back = history(records(), take('g1', 1, null), read('g1', 1, 0, 'p1-0'), read('g1', 1, 1, 'p1-1'), read('g1', 1, 0, 'p1-0'));
    expect(kinds(back)).toEqual(['nonmonotonic-read']);
    // A new span of the same member may read again from the committed offset.
    const again = history(records(), take('g1', 1, null), read('g1', 1, 0, 'p1-0'), read('g1', 1, 1, 'p1-1'), commit('g1', 1),
      take('g1', 2, 1), read('g1', 2, 1, 'p1-1'));
    expect(kinds(again)).toEqual([]);
  });
});
