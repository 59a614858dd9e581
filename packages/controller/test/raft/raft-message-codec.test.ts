import fc from 'fast-check';
import type { Entry, Message, MessageType } from '@tributary/nraft';
import { tributary } from '@tributary/protocol';
import { describe, expect, it } from 'vitest';
import { RaftMessageDecodeError, decodeRaftMessage, encodeRaftMessage } from '../../src/raft/raft-message-codec.js';

const TYPES: MessageType[] = ['app', 'app-resp', 'vote', 'vote-resp', 'pre-vote', 'pre-vote-resp', 'heartbeat',
  'heartbeat-resp', 'snap', 'timeout-now', 'read-index', 'read-index-resp', 'transfer-leader'];

const u = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const id = fc.integer({ min: 1, max: 1_000_000 });
const bytes = fc.uint8Array({ maxLength: 64 });

const entriesArb: fc.Arbitrary<Entry[]> = fc
  .tuple(fc.integer({ min: 1, max: 1e12 }), fc.array(fc.tuple(u, fc.constantFrom('normal' as const, 'conf-change' as const), bytes), { maxLength: 5 }))
  .map(([start, es]) => es.map(([term, type, data], k) => ({ index: start + k, term, type, data })));

const messageArb: fc.Arbitrary<Message> = fc
  .record({
    type: fc.constantFrom(...TYPES),
    from: id, to: id, term: u, logTerm: u, index: u,
    entries: entriesArb,
    commit: u, reject: fc.boolean(), rejectHint: u,
    rejectHintTerm: fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
    snapshot: fc.option(fc.record({
      metadata: fc.record({ index: u, term: u, confState: fc.record({ voters: fc.array(id, { maxLength: 5 }), learners: fc.array(id, { maxLength: 3 }) }) }),
      data: bytes,
    }), { nil: undefined }),
    context: bytes,
  })
  .map((m) => {
    // Optional fields are absent, not undefined, in a Message.
    const { rejectHintTerm, snapshot, ...rest } = m;
    return { ...rest, ...(rejectHintTerm === undefined ? {} : { rejectHintTerm }), ...(snapshot === undefined ? {} : { snapshot }) };
  });

function wireRoundTrip(m: Message): Message {
  const env = tributary.internal.v1.RaftEnvelope.encode({ clusterId: 'c', message: encodeRaftMessage(m) }).finish();
  return decodeRaftMessage(tributary.internal.v1.RaftEnvelope.decode(env).message!);
}

describe('raft message codec', () => {
  it('round-trips every message through the wire encoding', () => {
    fc.assert(fc.property(messageArb, (m) => {
      expect(wireRoundTrip(m)).toEqual(m);
    }), { numRuns: 500 });
  });

  it('rejects what raft must not see', () => {
    const ok = encodeRaftMessage({ type: 'app', from: 1, to: 2, term: 3, logTerm: 2, index: 9, entries: [], commit: 4,
      reject: false, rejectHint: 0, context: new Uint8Array() });
    expect(() => decodeRaftMessage({ ...ok, type: tributary.internal.v1.RaftMessageType.MSG_UNSPECIFIED })).toThrow(RaftMessageDecodeError);
    expect(() => decodeRaftMessage({ ...ok, from: 0 })).toThrow(/from out of range/);
    expect(() => decodeRaftMessage({ ...ok, entries: [{ index: 10, term: 3 }, { index: 12, term: 3 }] })).toThrow(/not contiguous/);
    expect(() => decodeRaftMessage({ ...ok, entries: [{ index: 10, term: 3, type: 7 as tributary.internal.v1.RaftEntryType }] })).toThrow(/entry type/);
    expect(() => decodeRaftMessage({ ...ok, snapshot: { data: new Uint8Array() } })).toThrow(/metadata/);
    // A uint64 beyond 2^53 cannot be a term (whether protobufjs hands it over as a Long or a lossy number).
    const pb = tributary.internal.v1;
    const huge = pb.RaftMessage.decode(pb.RaftMessage.encode({ ...ok, term: 2 ** 60 }).finish());
    expect(() => decodeRaftMessage(huge)).toThrow(/term out of range/);
  });
});
