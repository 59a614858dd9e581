// A retry backing off after a leadership or connection error goes at once when the metadata names a
// newer leader for its partition (KIP-951); until then the producer keeps looking (waitingForLeader).
import { describe, expect, it } from 'vitest';
import { BrokerError, ConnectionError } from '../src/index.js';
import { RecordAccumulator, retriesOnNewLeader, type BackingOffRetry, type LeaderView } from '../src/internal.js';
import { tributary } from '@tributary/protocol';

const { NOT_LEADER_OR_FOLLOWER, INVALID_RECORD } = tributary.v1.ErrorCode;

const retry = (partition: number, lastError: unknown, sentLeaderEpoch: number): BackingOffRetry => ({ topic: 't', partition, lastError, sentLeaderEpoch });
const leaders = (byPartition: Record<number, LeaderView>) => (_topic: string, partition: number) => byPartition[partition];

describe('retriesOnNewLeader', () => {
  it('a leadership or connection error retried under an older leader epoch is due at once', () => {
    const notLeader = retry(0, new BrokerError(NOT_LEADER_OR_FOLLOWER, ''), 3);
    const refused = retry(1, new ConnectionError('127.0.0.1:1'), 5);
    const { due, waitingForLeader } = retriesOnNewLeader([notLeader, refused], leaders({ 0: { leaderId: 2, leaderEpoch: 4 }, 1: { leaderId: 3, leaderEpoch: 6 } }));
    expect(due).toEqual([notLeader, refused]);
    expect(waitingForLeader).toBe(false);
  });

  it('waits (and asks to look again) while the metadata still names the leader it failed on, or none', () => {
    const same = retry(0, new ConnectionError('127.0.0.1:1'), 3);
    const leaderless = retry(1, new BrokerError(NOT_LEADER_OR_FOLLOWER, ''), 3);
    const unknown = retry(2, new BrokerError(NOT_LEADER_OR_FOLLOWER, ''), 3);
    const { due, waitingForLeader } = retriesOnNewLeader([same, leaderless, unknown], leaders({ 0: { leaderId: 1, leaderEpoch: 3 }, 1: { leaderId: -1, leaderEpoch: 4 } }));
    expect(due).toEqual([]);
    expect(waitingForLeader).toBe(true);
  });

  it('keeps the backoff of retries that failed for other reasons', () => {
    const other = retry(0, new BrokerError(INVALID_RECORD, 'bad'), 1);
    expect(retriesOnNewLeader([other], leaders({ 0: { leaderId: 2, leaderEpoch: 9 } }))).toEqual({ due: [], waitingForLeader: false });
  });

  it('RecordAccumulator.backingOff lists queued retries still inside their backoff only', () => {
    const acc = new RecordAccumulator({ batchSizeBytes: 1024, lingerMs: 0, deliveryTimeoutMs: 120_000 });
    const record = { key: null, value: Buffer.from('v'), headers: [], timestampMs: 0, sizeBytes: 10, complete: () => {} };
    const a = acc.append('t', 0, record as never, 0).batch;
    const b = acc.append('t', 1, record as never, 0).batch;
    const c = acc.append('t', 2, record as never, 0).batch;
    for (const batch of [a, b, c]) {
      acc.takeSendable(acc.queue('t', batch.partition), 0, true, 1 << 20);
      batch.attempts = 1;
    }
    acc.reenqueue(a, 1000, new ConnectionError('x'));
    acc.reenqueue(b, 50, new ConnectionError('x'));
    expect(acc.backingOff(100)).toEqual([a]); // b's backoff is over; c is in flight
  });
});
