// Offsets in transactions, pure: pending per (group, producer id) until the producer's marker, COMMIT
// applies only what is newer than the current commit, ABORT drops; KIP-447 fencing; replaying the
// encoded log (transactional batches, control batches) reaches the same state as the live path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRecordBatches, encodeControlBatch, encodeRecordBatch } from '@tributary/protocol';
import {
  applyCommit, deleteGroup, join, newGroup, sync, tick, type Group, type JoinInput, type StepContext,
} from '../../src/groups/group.js';
import { controlRecordType, groupRecord, offsetRecord, replayBatch } from '../../src/groups/group-records.js';
import {
  checkTxnIndex, completeTxn, hasPendingTxnOffset, stageTxnOffsets, validateTxnCommit, type OffsetsShardState,
} from '../../src/groups/txn-offsets.js';

const logger = { info: () => undefined };
const at = (nowMs: number): StepContext => ({ nowMs, logger, partitionCounts: new Map([['t', 6]]), sessionTimeoutMs: { min: 1_000, max: 300_000 } });
const tp = (partition: number) => ({ topic: 't', partition });
const commit = (partition: number, offset: number) => ({ topic: 't', partition, offset, metadata: `m${offset}` });
const emptyState = (): OffsetsShardState => ({ groups: new Map(), txnGroups: new Map() });
const committed = (state: OffsetsShardState, group = 'G'): [number, number][] =>
  [...(state.groups.get(group)?.offsets.values() ?? [])].map((o) => [o.partition, o.offset] as [number, number]).sort((a, b) => a[0] - b[0]);

function stage(state: OffsetsShardState, group: string, producerId: number, commits: ReturnType<typeof commit>[], recordOffset: number): void {
  stageTxnOffsets(state, group, () => newGroup(group, 0), producerId, commits, recordOffset, 0);
  checkTxnIndex(state);
}
function plain(state: OffsetsShardState, group: string, commits: ReturnType<typeof commit>[], recordOffset: number): void {
  state.groups.set(group, applyCommit(state.groups.get(group) ?? newGroup(group, 0), commits, 0, '', recordOffset));
}
function marker(state: OffsetsShardState, producerId: number, isCommit: boolean, offset: number): string[] {
  const changed = completeTxn(state, { producerId, committed: isCommit, offset });
  checkTxnIndex(state);
  return changed;
}

let seq = 0;
function joinInput(over: Partial<JoinInput> = {}): JoinInput {
  seq++;
  return {
    requestId: `r${seq}`, memberId: '', groupInstanceId: null, clientId: 'c', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer', strategies: ['range'], topics: ['t'], ownedPartitions: [], ownedGeneration: -1, newMemberId: `m${seq}`, ...over,
  };
}

describe('pending transactional offsets', () => {
  it('are invisible until COMMIT, then current; ABORT drops them and the committed offset stays', () => {
    const s = emptyState();
    plain(s, 'G', [commit(0, 5)], 0);
    stage(s, 'G', 7, [commit(0, 9), commit(1, 3)], 1);
    expect(committed(s)).toEqual([[0, 5]]);
    expect(hasPendingTxnOffset(s.groups.get('G')!, tp(0))).toBe(true);
    expect(hasPendingTxnOffset(s.groups.get('G')!, tp(2))).toBe(false);
    expect(marker(s, 7, false, 2)).toEqual(['G']);
    expect(committed(s)).toEqual([[0, 5]]);
    expect(s.groups.get('G')!.pendingTxnOffsets.size).toBe(0);
    expect(s.txnGroups.size).toBe(0);

    stage(s, 'G', 7, [commit(0, 9), commit(1, 3)], 3);
    expect(marker(s, 7, true, 4)).toEqual(['G']);
    expect(committed(s)).toEqual([[0, 9], [1, 3]]);
    expect(s.groups.get('G')!.offsets.get('t\u00000')).toMatchObject({ offset: 9, metadata: 'm9', recordOffset: 3 });
    expect(marker(s, 7, true, 4)).toEqual([]); // the same marker again changes nothing
  });

  it('a COMMIT applies a pending offset only where no plain commit was written after it', () => {
    const s = emptyState();
    plain(s, 'G', [commit(0, 1), commit(1, 1)], 0);
    stage(s, 'G', 7, [commit(0, 10), commit(1, 10)], 5);
    plain(s, 'G', [commit(1, 20)], 6); // written after the transactional one: it stays
    marker(s, 7, true, 8);
    expect(committed(s)).toEqual([[0, 10], [1, 20]]);
  });

  it('a plain commit written before the current one never replaces it (acks may finish out of order)', () => {
    const s = emptyState();
    plain(s, 'G', [commit(0, 8)], 9);
    plain(s, 'G', [commit(0, 4)], 3);
    expect(committed(s)).toEqual([[0, 8]]);
  });

  it('a marker completes only what its producer wrote before it, in every group; other producers stay pending', () => {
    const s = emptyState();
    stage(s, 'A', 7, [commit(0, 1)], 10);
    stage(s, 'B', 7, [commit(0, 2)], 11);
    stage(s, 'A', 8, [commit(1, 3)], 12);
    stage(s, 'A', 7, [commit(2, 4)], 14); // after the marker at 13: the producer's next transaction
    expect(marker(s, 7, true, 13).sort()).toEqual(['A', 'B']);
    expect(committed(s, 'A')).toEqual([[0, 1]]);
    expect(committed(s, 'B')).toEqual([[0, 2]]);
    expect(hasPendingTxnOffset(s.groups.get('A')!, tp(1))).toBe(true); // producer 8
    expect(hasPendingTxnOffset(s.groups.get('A')!, tp(2))).toBe(true); // producer 7, next transaction
    expect([...s.txnGroups.keys()].sort()).toEqual([7, 8]);
    marker(s, 8, false, 15);
    marker(s, 7, true, 16);
    expect(committed(s, 'A')).toEqual([[0, 1], [2, 4]]);
    expect(s.txnGroups.size).toBe(0);
  });

  it('a group that only an aborted transaction created is gone after the ABORT; one with history stays', () => {
    const s = emptyState();
    stage(s, 'made-up', 7, [commit(0, 1)], 0);
    plain(s, 'G', [commit(0, 3)], 1);
    stage(s, 'G', 7, [commit(0, 4)], 2);
    marker(s, 7, false, 3);
    expect([...s.groups.keys()]).toEqual(['G']);
    expect(committed(s)).toEqual([[0, 3]]);
  });

  it('the last write of a partition in one transaction wins', () => {
    const s = emptyState();
    stage(s, 'G', 7, [commit(0, 1)], 1);
    stage(s, 'G', 7, [commit(0, 2)], 2);
    marker(s, 7, true, 3);
    expect(committed(s)).toEqual([[0, 2]]);
  });
});

describe('TxnOffsetCommit fencing (KIP-447)', () => {
  function stable(): { group: Group; memberId: string; staticId: string } {
    let g = newGroup('G', 0);
    const first = join(g, joinInput({ groupInstanceId: 'i-1', newMemberId: 'static-1' }), at(0));
    g = first.group;
    const memberId = first.replies[0]!.memberId;
    g = sync(g, { memberId, groupInstanceId: 'i-1', generation: g.generation }, at(0)).step.group;
    expect(g.state).toBe('Stable');
    return { group: g, memberId, staticId: 'i-1' };
  }

  it('accepts the current member and generation; no metadata at all only while the group has no members; refuses zombies', () => {
    const { group, memberId, staticId } = stable();
    const gen = group.generation;
    expect(validateTxnCommit(group, { memberId, groupInstanceId: staticId, generation: gen })).toBeNull();
    expect(validateTxnCommit(group, { memberId, groupInstanceId: null, generation: gen })).toBeNull();
    expect(validateTxnCommit(group, { memberId, groupInstanceId: null, generation: -1 })).toBeNull(); // generation not checked
    // Not a member: refused while members manage the group (a member that lost its identity would commit
    // offsets of partitions that moved on; the txn chaos smoke saw duplicated outputs), accepted when empty.
    expect(validateTxnCommit(group, { memberId: '', groupInstanceId: null, generation: -1 })).toBe('ILLEGAL_GENERATION');
    expect(validateTxnCommit({ ...group, members: new Map(), state: 'Empty' }, { memberId: '', groupInstanceId: null, generation: -1 })).toBeNull();
    expect(validateTxnCommit(group, { memberId, groupInstanceId: null, generation: gen - 1 })).toBe('ILLEGAL_GENERATION');
    expect(validateTxnCommit(group, { memberId, groupInstanceId: null, generation: gen + 1 })).toBe('ILLEGAL_GENERATION');
    expect(validateTxnCommit(group, { memberId: '', groupInstanceId: null, generation: gen - 1 })).toBe('ILLEGAL_GENERATION');
    expect(validateTxnCommit(group, { memberId: 'gone', groupInstanceId: null, generation: gen })).toBe('UNKNOWN_MEMBER_ID');
    expect(validateTxnCommit(group, { memberId: 'old-incarnation', groupInstanceId: staticId, generation: gen })).toBe('FENCED_INSTANCE_ID');
    expect(validateTxnCommit(group, { memberId, groupInstanceId: 'i-other', generation: gen })).toBe('FENCED_INSTANCE_ID');
    expect(validateTxnCommit({ ...group, state: 'Dead' }, { memberId: '', groupInstanceId: null, generation: -1 })).toBe('COORDINATOR_NOT_AVAILABLE');
  });

  it('a member of the new generation may commit in CompletingRebalance (fenced by its generation, not the state)', () => {
    const { group, memberId } = stable();
    const second = join(group, joinInput(), at(1)).group; // PreparingRebalance until the first member rejoins
    const rejoined = join(second, joinInput({ memberId, groupInstanceId: 'i-1', newMemberId: 'unused' }), at(2)).group;
    expect(rejoined.state).toBe('CompletingRebalance');
    expect(validateTxnCommit(rejoined, { memberId, groupInstanceId: 'i-1', generation: rejoined.generation })).toBeNull();
    expect(validateTxnCommit(rejoined, { memberId, groupInstanceId: 'i-1', generation: group.generation })).toBe('ILLEGAL_GENERATION');
  });
});

describe('expiry and deletion with pending transactional offsets', () => {
  it('expiry skips partitions with a pending commit and the group lives on; delete is refused until the marker', () => {
    const s = emptyState();
    plain(s, 'G', [commit(0, 1), commit(1, 1)], 0);
    stage(s, 'G', 7, [commit(1, 5)], 1);
    const g = s.groups.get('G')!;
    expect(deleteGroup(g, at(0)).error).toBe('NON_EMPTY_GROUP');
    const expired = tick(g, 60_000, at(60_000));
    expect(expired.removedOffsets).toEqual([tp(0)]);
    expect(expired.group.state).toBe('Empty');
    expect([...expired.group.offsets.keys()]).toEqual(['t\u00001']);
    expect(tick(expired.group, 60_000, at(60_001)).removedOffsets).toEqual([]); // nothing more to do while pending
    s.groups.set('G', expired.group);
    marker(s, 7, false, 2);
    const after = s.groups.get('G')!;
    expect(deleteGroup(after, at(3)).error).toBeNull();
    const gone = tick(after, 60_000, at(60_002));
    expect(gone.group.state).toBe('Dead');
    expect(gone.removedOffsets).toEqual([tp(1)]);
  });

  it('a group with only pending offsets is not expired (nothing committed yet)', () => {
    const s = emptyState();
    stage(s, 'G', 7, [commit(0, 5)], 0);
    const out = tick(s.groups.get('G')!, 1, at(10_000_000));
    expect(out.group.state).toBe('Empty');
    expect(out.removedOffsets).toEqual([]);
  });
});

// ---- replay from the encoded log -----------------------------------------------------------------------

type Op =
  | { readonly kind: 'plain'; readonly group: string; readonly commits: ReturnType<typeof commit>[] }
  | { readonly kind: 'txn'; readonly group: string; readonly producerId: number; readonly commits: ReturnType<typeof commit>[] }
  | { readonly kind: 'marker'; readonly producerId: number; readonly committed: boolean }
  | { readonly kind: 'delete'; readonly group: string };

const controlKey = (type: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt16BE(0, 0);
  b.writeInt16BE(type, 2);
  return b;
};

/** The ops as the coordinator writes them: one batch each, offsets assigned in order. */
function encodeLog(ops: readonly Op[]): Buffer {
  const out: Buffer[] = [];
  let offset = 0;
  for (const op of ops) {
    let batch: Buffer;
    if (op.kind === 'plain') {
      batch = encodeRecordBatch({ baseOffset: offset, records: op.commits.map((c) => ({ ...offsetRecord(op.group, c, { offset: c.offset, metadata: c.metadata, commitTimestampMs: 0 }), timestamp: 0 })) });
    } else if (op.kind === 'txn') {
      batch = encodeRecordBatch({
        baseOffset: offset, producerId: op.producerId, producerEpoch: 0, baseSequence: -1, transactional: true,
        records: op.commits.map((c) => ({ ...offsetRecord(op.group, c, { offset: c.offset, metadata: c.metadata, commitTimestampMs: 0 }), timestamp: 0 })),
      });
    } else if (op.kind === 'marker') {
      batch = encodeControlBatch({ type: op.committed ? 'COMMIT' : 'ABORT', producerId: op.producerId, producerEpoch: 1, coordinatorEpoch: 3, timestampMs: 0, baseOffset: offset });
    } else {
      const dead = { ...newGroup(op.group, 0), state: 'Dead' as const };
      batch = encodeRecordBatch({ baseOffset: offset, records: [{ ...groupRecord(dead), timestamp: 0 }] });
    }
    out.push(batch);
    offset += op.kind === 'plain' || op.kind === 'txn' ? op.commits.length : 1;
  }
  return Buffer.concat(out);
}

function replayLog(bytes: Buffer): OffsetsShardState {
  const state = emptyState();
  for (const b of decodeRecordBatches(bytes)) replayBatch(state, b, 0);
  checkTxnIndex(state);
  return state;
}

/** The same ops through the live functions (the coordinator's path), at the same record offsets. */
function applyLive(ops: readonly Op[]): OffsetsShardState {
  const state = emptyState();
  let offset = 0;
  for (const op of ops) {
    if (op.kind === 'plain') plain(state, op.group, op.commits, offset);
    else if (op.kind === 'txn') stage(state, op.group, op.producerId, op.commits, offset);
    else if (op.kind === 'marker') marker(state, op.producerId, op.committed, offset);
    else {
      const g = state.groups.get(op.group);
      if (g !== undefined) {
        const out = deleteGroup(g, at(0));
        if (out.error === null) state.groups.delete(op.group);
      }
    }
    offset += op.kind === 'plain' || op.kind === 'txn' ? op.commits.length : 1;
  }
  return state;
}

/** What OffsetFetch would show, and what is pending, per group. */
function visible(state: OffsetsShardState): unknown {
  return [...state.groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, g]) => ({
    id,
    offsets: [...g.offsets.values()].map((o) => [o.partition, o.offset, o.metadata, o.recordOffset]).sort(),
    pending: [...g.pendingTxnOffsets.entries()].map(([pid, m]) => [pid, [...m.values()].map((o) => [o.partition, o.offset, o.recordOffset]).sort()]).sort(),
  })).filter((g) => g.offsets.length > 0 || g.pending.length > 0);
}

describe('replaying __consumer_offsets', () => {
  it('committed → transactional pending → ABORT → reload gives the committed offset', () => {
    const ops: Op[] = [
      { kind: 'plain', group: 'G', commits: [commit(0, 5)] },
      { kind: 'txn', group: 'G', producerId: 7, commits: [commit(0, 9)] },
      { kind: 'marker', producerId: 7, committed: false },
    ];
    const s = replayLog(encodeLog(ops));
    expect(committed(s)).toEqual([[0, 5]]);
    expect(s.groups.get('G')!.pendingTxnOffsets.size).toBe(0);
  });

  it('a failover in the middle of a transaction: the reload keeps the offsets pending, the new leader\'s marker completes them', () => {
    const ops: Op[] = [
      { kind: 'plain', group: 'G', commits: [commit(0, 5)] },
      { kind: 'txn', group: 'G', producerId: 7, commits: [commit(0, 9), commit(1, 2)] },
    ];
    const s = replayLog(encodeLog(ops));
    expect(committed(s)).toEqual([[0, 5]]);
    expect(hasPendingTxnOffset(s.groups.get('G')!, tp(0))).toBe(true);
    expect(hasPendingTxnOffset(s.groups.get('G')!, tp(1))).toBe(true);
    marker(s, 7, true, 3); // the marker the new leader writes after the load
    expect(committed(s)).toEqual([[0, 9], [1, 2]]);
  });

  it('a group tombstone does not drop pending transactional offsets', () => {
    const ops: Op[] = [
      { kind: 'txn', group: 'G', producerId: 7, commits: [commit(0, 9)] },
      { kind: 'delete', group: 'G' },
      { kind: 'marker', producerId: 7, committed: true },
    ];
    expect(committed(replayLog(encodeLog(ops)))).toEqual([[0, 9]]);
  });

  it('ignores control records that are not ABORT/COMMIT markers of version 0', () => {
    expect(controlRecordType(controlKey(0))).toBe('abort');
    expect(controlRecordType(controlKey(1))).toBe('commit');
    expect(controlRecordType(controlKey(2))).toBeUndefined();
    expect(controlRecordType(Buffer.from([0, 1, 0, 1]))).toBeUndefined(); // version 1
    expect(controlRecordType(Buffer.from([0, 0, 0]))).toBeUndefined(); // short
    expect(controlRecordType(null)).toBeUndefined();
    const s = emptyState();
    stage(s, 'G', 7, [commit(0, 1)], 0);
    replayBatch(s, { baseOffset: 1, producerId: 7, transactional: true, control: true, records: [{ offset: 1, key: controlKey(5), value: null }] }, 0);
    expect(hasPendingTxnOffset(s.groups.get('G')!, tp(0))).toBe(true);
  });

  it('the live path and the replay of the same log always agree (random interleavings)', () => {
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('plain' as const), group: fc.constantFrom('A', 'B'), commits: fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 99 })).map(([p, o]) => commit(p, o)), { minLength: 1, maxLength: 3 }) }),
      fc.record({ kind: fc.constant('txn' as const), group: fc.constantFrom('A', 'B'), producerId: fc.integer({ min: 1, max: 3 }), commits: fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 99 })).map(([p, o]) => commit(p, o)), { minLength: 1, maxLength: 3 }) }),
      fc.record({ kind: fc.constant('marker' as const), producerId: fc.integer({ min: 1, max: 3 }), committed: fc.boolean() }),
    );
    fc.assert(fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
      expect(visible(replayLog(encodeLog(ops)))).toEqual(visible(applyLive(ops)));
    }), { numRuns: 300 });
  });
});
