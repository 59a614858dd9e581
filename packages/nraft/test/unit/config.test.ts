import { describe, expect, it } from 'vitest';
import { RaftConfigError, parseRaftConfig, type RaftConfigInput } from '../../src/index.js';

const random = { intn: (): number => 0 };

function issuesOf(input: Partial<RaftConfigInput> & Record<string, unknown>): string[] {
  try {
    parseRaftConfig({ id: 1, random, ...input } as RaftConfigInput);
  } catch (e) {
    expect(e).toBeInstanceOf(RaftConfigError);
    return (e as RaftConfigError).issues.map((i) => i.field);
  }
  return [];
}

describe('parseRaftConfig', () => {
  it('applies defaults', () => {
    const c = parseRaftConfig({ id: 3, random });
    expect(c.electionTicks).toBe(10);
    expect(c.heartbeatTicks).toBe(1);
    expect(c.preVote).toBe(true);
    expect(c.checkQuorum).toBe(true);
    expect(c.applied).toBe(0);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    ['id', { id: 0 }],
    ['id', { id: 1.5 }],
    ['heartbeatTicks', { heartbeatTicks: 0 }],
    ['electionTicks', { electionTicks: 0 }],
    ['electionTicks', { electionTicks: 3, heartbeatTicks: 3 }],
    ['maxSizePerMsgBytes', { maxSizePerMsgBytes: 0 }],
    ['maxInflightMsgs', { maxInflightMsgs: 0 }],
    ['maxInflightBytes', { maxInflightBytes: -1 }],
    ['maxInflightBytes', { maxInflightBytes: 10, maxSizePerMsgBytes: 100 }],
    ['maxUncommittedEntriesBytes', { maxUncommittedEntriesBytes: 0 }],
    ['maxCommittedBytesPerReady', { maxCommittedBytesPerReady: -5 }],
    ['maxPendingReadIndexRequests', { maxPendingReadIndexRequests: 0 }],
    ['preVote', { preVote: 'yes' }],
    ['checkQuorum', { checkQuorum: 1 }],
    ['random', { random: undefined }],
    ['random', { random: {} }],
    ['logger', { logger: 42 }],
    ['applied', { applied: -1 }],
  ] as [string, Record<string, unknown>][])('names %s when it is bad (%o)', (field, input) => {
    expect(issuesOf(input)).toEqual([field]);
  });

  it('lists every bad field at once', () => {
    expect(issuesOf({ id: -1, heartbeatTicks: 0, maxInflightMsgs: 0 })).toEqual(['id', 'heartbeatTicks', 'maxInflightMsgs']);
    try {
      parseRaftConfig({ id: 1, random, electionTicks: 2, heartbeatTicks: 5 });
    } catch (e) {
      expect((e as Error).message).toContain('electionTicks: must be greater than heartbeatTicks (5)');
      expect((e as RaftConfigError).code).toBe('INVALID_RAFT_CONFIG');
    }
  });
});
