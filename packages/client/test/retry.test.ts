import { describe, expect, it } from 'vitest';
import { BrokerError, ConnectionError, TributaryClientError, errorFromWire, needsMetadataRefresh, UnknownTopicOrPartitionError, MessageTooLargeError } from '../src/errors.js';
import { backoffMs, decideRetry, withRetries } from '../src/retry.js';
import { ErrorCode } from '@tributary/protocol';

const policy = { retries: 3, retryBackoffMs: 100, retryBackoffMaxMs: 1_000 };

describe('backoff', () => {
  it('grows exponentially from retry.backoff.ms to retry.backoff.max.ms (no jitter at 0.5)', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffMs(policy, a, 0.5))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('jitters by ±20% and never exceeds the max', () => {
    expect(backoffMs(policy, 1, 0)).toBe(80);
    expect(backoffMs(policy, 1, 0.999999)).toBe(120);
    expect(backoffMs(policy, 10, 0.999999)).toBe(1_000);
  });
});

describe('decideRetry', () => {
  const notLeader = errorFromWire(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'moved');
  const tooLarge = errorFromWire(ErrorCode.MESSAGE_TOO_LARGE, 'big');

  it('retries what the error table marks retriable', () => {
    expect(notLeader.retriable).toBe(true);
    expect(decideRetry({ error: notLeader, attempt: 1, nowMs: 0, deadlineMs: 10_000, policy, jitter01: 0.5 })).toEqual({ retry: true, backoffMs: 100 });
  });

  it('does not retry non-retriable errors or unknown exceptions', () => {
    expect(tooLarge).toBeInstanceOf(MessageTooLargeError);
    expect(decideRetry({ error: tooLarge, attempt: 1, nowMs: 0, deadlineMs: 10_000, policy, jitter01: 0.5 })).toEqual({ retry: false, reason: 'not-retriable' });
    expect(decideRetry({ error: new TypeError('bug'), attempt: 1, nowMs: 0, deadlineMs: 10_000, policy, jitter01: 0.5 })).toEqual({ retry: false, reason: 'not-retriable' });
  });

  it('stops after `retries` retries', () => {
    expect(decideRetry({ error: notLeader, attempt: 3, nowMs: 0, deadlineMs: 10_000, policy, jitter01: 0.5 }).retry).toBe(true);
    expect(decideRetry({ error: notLeader, attempt: 4, nowMs: 0, deadlineMs: 10_000, policy, jitter01: 0.5 })).toEqual({ retry: false, reason: 'retries-exhausted' });
  });

  it('stops when the backoff would end past the deadline', () => {
    expect(decideRetry({ error: notLeader, attempt: 1, nowMs: 9_950, deadlineMs: 10_000, policy, jitter01: 0.5 })).toEqual({ retry: false, reason: 'deadline' });
  });

  it('a caller override can make an error retriable', () => {
    const oos = errorFromWire(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'gap');
    expect(oos.retriable).toBe(false);
    expect(decideRetry({ error: oos, retriable: true, attempt: 1, nowMs: 0, deadlineMs: 10_000, policy, jitter01: 0.5 }).retry).toBe(true);
  });
});

describe('typed wire errors', () => {
  it('maps codes to classes with code name, retriable and cause', () => {
    const e = errorFromWire(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'no such topic', { topic: 'x', partition: 3 });
    expect(e).toBeInstanceOf(UnknownTopicOrPartitionError);
    expect(e.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(e.cause).toBeInstanceOf(BrokerError);
    const b = errorFromWire(ErrorCode.NOT_ENOUGH_REPLICAS, 'isr 1 < 2');
    expect(b).toBeInstanceOf(BrokerError);
    expect(b).toMatchObject({ code: 'NOT_ENOUGH_REPLICAS', retriable: true, errorCode: ErrorCode.NOT_ENOUGH_REPLICAS, brokerMessage: 'isr 1 < 2' });
  });

  it('leadership errors and connection loss ask for a metadata refresh; others do not', () => {
    for (const code of [ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.LEADER_NOT_AVAILABLE]) {
      expect(needsMetadataRefresh(errorFromWire(code, ''))).toBe(true);
    }
    expect(needsMetadataRefresh(new ConnectionError('h:1'))).toBe(true);
    expect(needsMetadataRefresh(errorFromWire(ErrorCode.NOT_ENOUGH_REPLICAS, ''))).toBe(false);
    expect(needsMetadataRefresh(errorFromWire(ErrorCode.MESSAGE_TOO_LARGE, ''))).toBe(false);
  });
});

describe('withRetries', () => {
  it('retries retriable failures then returns; rethrows the first non-retriable one', async () => {
    let calls = 0;
    const fast = { retries: 10, retryBackoffMs: 1, retryBackoffMaxMs: 2 };
    const value = await withRetries({
      op: async () => {
        calls++;
        if (calls < 3) throw new ConnectionError('h:1');
        return 'ok';
      },
      policy: fast, deadlineMs: Date.now() + 5_000,
    });
    expect([value, calls]).toEqual(['ok', 3]);
    calls = 0;
    const fatal = errorFromWire(ErrorCode.INVALID_CONFIG, 'bad');
    await expect(withRetries({ op: async () => { calls++; throw fatal; }, policy: fast, deadlineMs: Date.now() + 5_000 })).rejects.toBe(fatal);
    expect(calls).toBe(1);
  });
});
