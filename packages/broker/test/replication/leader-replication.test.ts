import { describe, expect, it } from 'vitest';
import {
  applyAlterPartitionResult, becomeLeader, computeLeaderHighWatermark, handleFollowerFetch, markIsrChangeSent, maximalIsr,
  proposeIsrChange, type LeaderLogView, type LeaderState,
} from '../../src/replication/leader-replication.js';
import { followerHighWatermark, followerTruncation } from '../../src/replication/follower-replication.js';
import { checkSequence, recordBatch, type ProducerEntry } from '../../src/replication/producer-state.js';
import type { PartitionInfo } from '../../src/metadata-view.js';

const info: PartitionInfo = { topic: 't', topicId: 'T', partition: 0, leader: 1, leaderEpoch: 5, partitionEpoch: 7, replicas: [1, 2, 3], isr: [1, 2, 3] };
// Leader log: epoch 3 at [0, 10), epoch 5 from 10, LEO 20.
const log: LeaderLogView = {
  logStartOffset: 0, logEndOffset: 20, latestEpoch: 5,
  endOffsetForEpoch: (e) => (e === 5 ? { epoch: 5, endOffset: 20 } : e >= 3 && e < 5 ? { epoch: 3, endOffset: 10 } : e < 3 ? { epoch: e, endOffset: 0 } : { epoch: -1, endOffset: -1 }),
};
const leader = (): LeaderState => becomeLeader({ leaderId: 1, info, leaderLogEndOffset: 10, nowMs: 1000 });
const fetch = (over: Partial<Parameters<typeof handleFollowerFetch>[1]> = {}) => ({ replicaId: 2, brokerEpoch: 9, fetchOffset: 20, lastFetchedEpoch: 5, currentLeaderEpoch: 5, nowMs: 2000, ...over });

describe('leader: follower fetch', () => {
  it('fences an older epoch and refuses a newer one', () => {
    expect(handleFollowerFetch(leader(), fetch({ currentLeaderEpoch: 4 }), log).outcome).toMatchObject({ kind: 'error', code: 'FENCED_LEADER_EPOCH' });
    expect(handleFollowerFetch(leader(), fetch({ currentLeaderEpoch: 6 }), log).outcome).toMatchObject({ kind: 'error', code: 'UNKNOWN_LEADER_EPOCH' });
  });
  it('reports the diverging epoch when the follower’s last epoch ends earlier here, without counting its LEO', () => {
    const { state, outcome } = handleFollowerFetch(leader(), fetch({ fetchOffset: 12, lastFetchedEpoch: 4 }), log);
    expect(outcome).toEqual({ kind: 'diverging', divergingEpoch: { epoch: 3, endOffset: 10 } });
    expect(state.followers.get(2)!.logEndOffset).toBe(-1);
  });
  it('answers a follower ahead of our latest epoch with where our log ends', () => {
    expect(handleFollowerFetch(leader(), fetch({ fetchOffset: 25, lastFetchedEpoch: 6 }), log).outcome).toEqual({ kind: 'diverging', divergingEpoch: { epoch: 5, endOffset: 20 } });
  });
  it('records progress and caught-up time (Kafka rule) on a matching fetch', () => {
    const { state, outcome } = handleFollowerFetch(leader(), fetch(), log);
    expect(outcome).toEqual({ kind: 'read', fetchOffset: 20 });
    expect(state.followers.get(2)).toMatchObject({ logEndOffset: 20, lastCaughtUpTimeMs: 2000, brokerEpoch: 9 });
  });
});

describe('leader: high watermark', () => {
  it('is the min LEO over the ISR, held by unknown members, never moving back', () => {
    let s = handleFollowerFetch(leader(), fetch({ fetchOffset: 15, lastFetchedEpoch: 5 }), log).state;
    expect(computeLeaderHighWatermark(s, { leaderLogEndOffset: 20, currentHighWatermark: 8 })).toBe(8); // 3 unknown
    s = handleFollowerFetch(s, fetch({ replicaId: 3, fetchOffset: 18 }), log).state;
    expect(computeLeaderHighWatermark(s, { leaderLogEndOffset: 20, currentHighWatermark: 8 })).toBe(15);
    expect(computeLeaderHighWatermark(s, { leaderLogEndOffset: 20, currentHighWatermark: 16 })).toBe(16);
  });
  it('counts a pending shrink’s removed member and a pending expansion’s new member (maximal ISR)', () => {
    const s = markIsrChangeSent({ ...leader(), isr: [1, 2] }, [1, 3], 0, 100);
    expect(maximalIsr(s)).toEqual([1, 2, 3]);
  });
});

describe('leader: ISR changes', () => {
  const inputs = { nowMs: 1000, leaderLogEndOffset: 20, highWatermark: 10, replicaLagTimeMaxMs: 500, isEligible: () => true };
  it('drops followers not caught up for replica.lag.time.max.ms, never the leader', () => {
    expect(proposeIsrChange(leader(), { ...inputs, nowMs: 1501 })).toEqual([1]);
    expect(proposeIsrChange(leader(), { ...inputs, nowMs: 1500 })).toBeUndefined();
  });
  it('adds a follower only at LEO ≥ HW and ≥ the epoch start offset, and only with its current broker epoch', () => {
    const s0 = { ...leader(), isr: [1, 2] };
    const low = handleFollowerFetch(s0, fetch({ replicaId: 3, fetchOffset: 9, lastFetchedEpoch: 3, nowMs: 1000 }), log).state;
    expect(proposeIsrChange(low, { ...inputs, highWatermark: 9 })).toBeUndefined(); // below epoch start 10
    const caught = handleFollowerFetch(s0, fetch({ replicaId: 3, fetchOffset: 20, nowMs: 1000 }), log).state;
    expect(proposeIsrChange(caught, inputs)).toEqual([1, 2, 3]);
    expect(proposeIsrChange(caught, { ...inputs, isEligible: (_id, epoch) => epoch === 10 })).toBeUndefined();
  });
  it('allows one change in flight; an unknown outcome keeps counting, a refusal drops it', () => {
    const sent = markIsrChangeSent(leader(), [1, 2], 0, 100);
    expect(proposeIsrChange(sent, { ...inputs, nowMs: 5000 })).toBeUndefined();
    const unknown = applyAlterPartitionResult(sent, { fromPartitionEpoch: 7, result: { ok: false, error: 'REQUEST_TIMED_OUT', message: '' }, nowMs: 0, backoffMs: 10 });
    expect(unknown.pendingIsr?.status).toBe('unknown');
    const refused = applyAlterPartitionResult(sent, { fromPartitionEpoch: 7, result: { ok: false, error: 'INVALID_UPDATE_VERSION', message: '' }, nowMs: 0, backoffMs: 10 });
    expect(refused.pendingIsr).toBeUndefined();
    const done = applyAlterPartitionResult(sent, { fromPartitionEpoch: 7, result: { ok: true, partition: { ...info, isr: [1, 2], partitionEpoch: 8 } }, nowMs: 0, backoffMs: 10 });
    expect(done).toMatchObject({ isr: [1, 2], partitionEpoch: 8, pendingIsr: undefined });
  });
});

describe('follower', () => {
  it('truncates to min(leader end, own end) of the diverging epoch, never to the HW', () => {
    const own = (e: number) => (e === 3 ? { epoch: 3, endOffset: 12 } : { epoch: -1, endOffset: -1 });
    expect(followerTruncation({ diverging: { epoch: 3, endOffset: 10 }, localLogStartOffset: 0, localLogEndOffset: 14, localEndOffsetForEpoch: own, leaderLogStartOffset: 0 })).toEqual({ kind: 'truncate', offset: 10 });
    expect(followerHighWatermark({ leaderHighWatermark: 30, logEndOffset: 14, currentHighWatermark: 10 })).toBe(14);
  });
});

describe('idempotent producer state', () => {
  it('returns a retried batch’s offsets, rejects gaps and stale epochs', () => {
    const table = new Map<number, ProducerEntry>();
    recordBatch(table, { producerId: 7, producerEpoch: 0, baseSequence: 0, lastOffsetDelta: 4, baseOffset: 100 });
    expect(checkSequence(table, { producerId: 7, producerEpoch: 0, baseSequence: 0, lastOffsetDelta: 4 })).toEqual({ kind: 'duplicate', batch: { firstSequence: 0, lastSequence: 4, firstOffset: 100, lastOffset: 104 } });
    expect(checkSequence(table, { producerId: 7, producerEpoch: 0, baseSequence: 5, lastOffsetDelta: 0 })).toEqual({ kind: 'append' });
    expect(checkSequence(table, { producerId: 7, producerEpoch: 0, baseSequence: 6, lastOffsetDelta: 0 })).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    recordBatch(table, { producerId: 7, producerEpoch: 1, baseSequence: 0, lastOffsetDelta: 0, baseOffset: 105 });
    expect(checkSequence(table, { producerId: 7, producerEpoch: 0, baseSequence: 5, lastOffsetDelta: 0 })).toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
  });
  it('takes an unknown producer only at sequence 0: a later batch may have overtaken the first', () => {
    const table = new Map<number, ProducerEntry>();
    expect(checkSequence(table, { producerId: 8, producerEpoch: 0, baseSequence: 5, lastOffsetDelta: 0 })).toMatchObject({ kind: 'error', code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(checkSequence(table, { producerId: 8, producerEpoch: 0, baseSequence: 0, lastOffsetDelta: 4 })).toEqual({ kind: 'append' });
  });
  it('keeps only the last 5 batches per producer', () => {
    const table = new Map<number, ProducerEntry>();
    for (let i = 0; i < 7; i++) recordBatch(table, { producerId: 1, producerEpoch: 0, baseSequence: i, lastOffsetDelta: 0, baseOffset: i });
    expect(table.get(1)!.batches.map((b) => b.firstSequence)).toEqual([2, 3, 4, 5, 6]);
    expect(checkSequence(table, { producerId: 1, producerEpoch: 0, baseSequence: 1, lastOffsetDelta: 0 })).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
  });
});
