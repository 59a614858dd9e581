// The pure group state machine, as scenario scripts: join, sync, heartbeat, expiry, static membership,
// generation fencing, commit validation, retention; and the offsets-topic records round trip.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyCommit, deleteGroup, heartbeat, join, leave, newGroup, selectStrategy, sync, tick, validateCommit,
  type Group, type JoinInput, type JoinReply, type StepContext,
} from '../../src/groups/group.js';
import { groupRecord, javaStringHashCode, offsetRecord, offsetsPartitionFor, replayRecord } from '../../src/groups/group-records.js';

const transitions: string[] = [];
const logger = { info: (_obj: object, msg: string) => { if (msg.includes(' -> ')) transitions.push(msg); } };
const counts = new Map([['t', 6]]);
const at = (nowMs: number): StepContext => ({ nowMs, logger, partitionCounts: counts, sessionTimeoutMs: { min: 1_000, max: 300_000 } });

let seq = 0;
function joinInput(over: Partial<JoinInput> = {}): JoinInput {
  seq++;
  return {
    requestId: `r${seq}`, memberId: '', groupInstanceId: null, clientId: 'c', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer', strategies: ['range'], topics: ['t'], ownedPartitions: [], ownedGeneration: -1, newMemberId: `m${seq}`, ...over,
  };
}

/** Joins and syncs every member id in order; returns the Stable group. */
function stableGroup(n: number, over: Partial<JoinInput> = {}): { group: Group; ids: string[] } {
  let group = newGroup('G', 0);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const step = join(group, joinInput(over), at(0));
    group = step.group;
    ids.push([...group.members.keys()].at(-1)!);
    // Earlier members rejoin (the heartbeat told them to).
    for (const id of ids.slice(0, -1)) group = join(group, joinInput({ ...over, memberId: id }), at(0)).group;
  }
  expect(group.state).toBe('CompletingRebalance');
  for (const id of ids) group = sync(group, { memberId: id, groupInstanceId: group.members.get(id)!.groupInstanceId, generation: group.generation }, at(0)).step.group;
  expect(group.state).toBe('Stable');
  return { group, ids };
}

describe('group state machine', () => {
  it('a first join completes at once: new member id, generation 1, leader, range assignment; Stable after sync', () => {
    transitions.length = 0;
    const step = join(newGroup('G', 0), joinInput(), at(0));
    const reply = step.replies[0] as JoinReply;
    expect(reply.error).toBeNull();
    expect(reply.generation).toBe(1);
    expect(reply.leaderId).toBe(reply.memberId);
    expect(reply.protocolName).toBe('range');
    const synced = sync(step.group, { memberId: reply.memberId, groupInstanceId: null, generation: 1 }, at(1));
    expect(synced.assignment).toHaveLength(6);
    expect(synced.step.group.state).toBe('Stable');
    expect(transitions).toEqual(['Empty -> PreparingRebalance', 'PreparingRebalance -> CompletingRebalance', 'CompletingRebalance -> Stable']);
  });

  it('a second member makes the first rejoin (heartbeat says REBALANCE_IN_PROGRESS); the join parks until both joined', () => {
    const { group, ids } = stableGroup(1);
    const second = join(group, joinInput(), at(5));
    expect(second.replies).toEqual([]); // parked
    expect(second.group.state).toBe('PreparingRebalance');
    expect(heartbeat(second.group, { memberId: ids[0]!, groupInstanceId: null, generation: 1 }, 6).error).toBe('REBALANCE_IN_PROGRESS');
    const both = join(second.group, joinInput({ memberId: ids[0]! }), at(7));
    expect(both.replies.map((r) => r.generation)).toEqual([2, 2]);
    expect(both.group.state).toBe('CompletingRebalance');
    const sizes = [...both.group.assignment.values()].map((a) => a.length);
    expect(sizes).toEqual([3, 3]);
  });

  it('generation fencing: a zombie heartbeat or commit from an old generation gets ILLEGAL_GENERATION', () => {
    const { group, ids } = stableGroup(2);
    expect(heartbeat(group, { memberId: ids[0]!, groupInstanceId: null, generation: group.generation - 1 }, 1).error).toBe('ILLEGAL_GENERATION');
    expect(validateCommit(group, { memberId: ids[0]!, groupInstanceId: null, generation: group.generation - 1 })).toBe('ILLEGAL_GENERATION');
    expect(validateCommit(group, { memberId: 'nobody', groupInstanceId: null, generation: group.generation })).toBe('UNKNOWN_MEMBER_ID');
    expect(validateCommit(group, { memberId: ids[0]!, groupInstanceId: null, generation: group.generation })).toBeNull();
    // Simple consumers / tooling (generation -1) only while the group is Empty.
    expect(validateCommit(group, { memberId: '', groupInstanceId: null, generation: -1 })).toBe('REBALANCE_IN_PROGRESS');
    expect(validateCommit(newGroup('H', 0), { memberId: '', groupInstanceId: null, generation: -1 })).toBeNull();
  });

  it('session expiry removes a silent member and rebalances the rest; the last one leaving empties the group', () => {
    const { group, ids } = stableGroup(2);
    const alive = heartbeat(group, { memberId: ids[1]!, groupInstanceId: null, generation: group.generation }, 9_000).group;
    const expired = tick(alive, 7 * 86_400_000, at(10_001));
    expect([...expired.group.members.keys()]).toEqual([ids[1]]);
    expect(expired.group.state).toBe('PreparingRebalance');
    const left = leave(expired.group, { memberId: ids[1]!, groupInstanceId: null }, at(10_002));
    expect(left.step.group.state).toBe('Empty');
  });

  it('rebalance timeout (max.poll.interval.ms): a member that does not rejoin is dropped and the join completes', () => {
    const { group, ids } = stableGroup(2);
    const rejoin = join(group, joinInput({ memberId: ids[0]! }), at(1_000));
    expect(rejoin.replies).toEqual([]);
    const done = tick(rejoin.group, 7 * 86_400_000, at(1_000 + 30_001));
    expect(done.replies.map((r) => r.memberId)).toEqual([ids[0]]);
    expect([...done.group.members.keys()]).toEqual([ids[0]]);
  });

  it('static membership: a restarted instance takes over without a rebalance; the old member id is fenced', () => {
    const s = stableGroup(1, { groupInstanceId: 'i-1' });
    const before = s.group;
    const old = s.ids[0]!;
    const restarted = join(before, joinInput({ groupInstanceId: 'i-1' }), at(10));
    expect(restarted.group.state).toBe('Stable');
    expect(restarted.replies[0]!.generation).toBe(before.generation);
    const fresh = restarted.replies[0]!.memberId;
    expect(fresh).not.toBe(old);
    expect(restarted.group.assignment.get(fresh)).toEqual(before.assignment.get(old));
    expect(heartbeat(restarted.group, { memberId: old, groupInstanceId: 'i-1', generation: before.generation }, 11).error).toBe('FENCED_INSTANCE_ID');
    expect(join(restarted.group, joinInput({ memberId: old, groupInstanceId: 'i-1' }), at(12)).replies[0]!.error).toBe('FENCED_INSTANCE_ID');
  });

  it('cooperative-sticky: a joining member revokes only what moves, then a follow-up rebalance hands it over', () => {
    const coop = { strategies: ['cooperative-sticky'] };
    const { group, ids } = stableGroup(2, coop);
    const owned = (id: string) => group.assignment.get(id)!;
    let g = join(group, joinInput(coop), at(1)).group;
    for (const id of ids) g = join(g, joinInput({ ...coop, memberId: id, ownedPartitions: owned(id), ownedGeneration: group.generation }), at(1)).group;
    expect(g.state).toBe('CompletingRebalance');
    for (const id of ids) {
      const kept = g.assignment.get(id)!;
      for (const tp of kept) expect(owned(id)).toContainEqual(tp); // nothing new, nothing swapped
      expect(g.revoked.get(id) ?? []).toHaveLength(1);
    }
    expect(g.followUpRebalance).toBe(true);
    for (const id of g.members.keys()) g = sync(g, { memberId: id, groupInstanceId: null, generation: g.generation }, at(2)).step.group;
    expect(g.state).toBe('PreparingRebalance'); // the follow-up
  });

  it('offsets of an Empty group expire after offsets.retention.minutes; delete needs an Empty group', () => {
    const { group } = stableGroup(1);
    expect(deleteGroup(group, at(0)).error).toBe('NON_EMPTY_GROUP');
    let g = applyCommit(newGroup('E', 0), [{ topic: 't', partition: 0, offset: 5, metadata: '' }], 0, '', 0);
    expect(tick(g, 60_000, at(59_999)).group.offsets.size).toBe(1);
    const expired = tick(g, 60_000, at(60_000));
    expect(expired.group.state).toBe('Dead');
    expect(expired.removedOffsets).toEqual([{ topic: 't', partition: 0 }]);
    g = applyCommit(newGroup('F', 0), [{ topic: 't', partition: 1, offset: 1, metadata: '' }], 0, '', 0);
    expect(deleteGroup(g, at(1)).step.group.state).toBe('Dead');
  });

  it('selectStrategy picks the most voted strategy every member supports', () => {
    expect(selectStrategy([['range', 'cooperative-sticky'], ['cooperative-sticky', 'range'], ['cooperative-sticky']])).toBe('cooperative-sticky');
    expect(selectStrategy([['range'], ['roundrobin']])).toBeNull();
  });
});

describe('offsets topic records', () => {
  it('javaStringHashCode matches Java for known strings; partitionFor is in range', () => {
    expect(javaStringHashCode('')).toBe(0);
    expect(javaStringHashCode('hello')).toBe(99162322);
    expect(javaStringHashCode('polygenelubricants')).toBe(-2147483648); // Integer.MIN_VALUE → Utils.abs gives 0
    expect(offsetsPartitionFor('polygenelubricants', 50)).toBe(0);
    fc.assert(fc.property(fc.string(), fc.integer({ min: 1, max: 200 }), (g, n) => {
      const p = offsetsPartitionFor(g, n);
      return Number.isInteger(p) && p >= 0 && p < n;
    }));
  });

  it('replaying the written records rebuilds offsets and the generation (the last value per key wins)', () => {
    const { group } = stableGroup(2);
    const state = { groups: new Map<string, Group>(), txnGroups: new Map<number, Set<string>>() };
    const records = [
      offsetRecord('G', { topic: 't', partition: 0 }, { offset: 3, metadata: 'a', commitTimestampMs: 1 }),
      offsetRecord('G', { topic: 't', partition: 0 }, { offset: 7, metadata: 'b', commitTimestampMs: 2 }),
      offsetRecord('G', { topic: 't', partition: 1 }, { offset: 1, metadata: '', commitTimestampMs: 2 }),
      offsetRecord('G', { topic: 't', partition: 1 }, null),
      groupRecord(group),
    ];
    records.forEach((r, i) => replayRecord(state, r.key, r.value, 100, { recordOffset: i, producerId: null }));
    const loaded = state.groups.get('G')!;
    expect([...loaded.offsets.values()].map((o) => [o.partition, o.offset, o.metadata])).toEqual([[0, 7, 'b']]);
    expect(loaded.generation).toBe(group.generation);
    expect(loaded.state).toBe('Stable');
    expect(loaded.assignment).toEqual(group.assignment);
  });
});
