import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import {
  MemoryStorage,
  ProposalDroppedError,
  RawNode,
  type Message,
  type MessageType,
  type Ready,
} from '../../src/index.js';

const random = { intn: (): number => 0 };

function msg(type: MessageType, from: number, to: number, term: number, extra: Partial<Message> = {}): Message {
  return { type, from, to, term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, context: new Uint8Array(), ...extra };
}

/** Persist -> (collect messages) -> advance, as a driver does. */
function handle(node: RawNode, st: MemoryStorage): Ready {
  const rd = node.ready();
  if (rd.snapshot) st.applySnapshot(rd.snapshot);
  st.append(rd.entries);
  if (rd.hardState) st.setHardState(rd.hardState);
  node.advance(rd);
  return rd;
}

function singleLeader(): { node: RawNode; st: MemoryStorage } {
  const st = new MemoryStorage({ confState: { voters: [1], learners: [] } });
  const node = new RawNode({ id: 1, random }, st);
  node.campaign();
  while (node.hasReady()) handle(node, st);
  return { node, st };
}

describe('RawNode', () => {
  it('enforces ready/advance alternation', () => {
    const { node, st } = singleLeader();
    node.propose(new Uint8Array([1]));
    expect(node.hasReady()).toBe(true);
    const rd = node.ready();
    expect(node.hasReady()).toBe(false);
    expect(() => node.ready()).toThrow(AssertionError);
    st.append(rd.entries);
    expect(() => node.advance({ ...rd })).toThrow(AssertionError);
    node.advance(rd);
    // A single voter commits only after its own persistence was reported by advance().
    const rd2 = node.ready();
    expect(rd2.hardState?.commit).toBe(2);
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([2]);
    node.advance(rd2);
    expect(node.status().applied).toBe(2);
  });

  it('hands out soft and hard state only when they change', () => {
    const st = new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } });
    const node = new RawNode({ id: 1, random }, st);
    expect(node.hasReady()).toBe(false);
    node.campaign();
    const rd = handle(node, st);
    expect(rd.softState).toEqual({ leader: 0, role: 'pre-candidate' });
    expect(rd.hardState).toBeUndefined(); // a pre-vote changes no persistent state
    expect(rd.messages.map((m) => `${m.type}->${m.to} t${m.term}`)).toEqual(['pre-vote->2 t1', 'pre-vote->3 t1']);
    node.step(msg('pre-vote-resp', 2, 1, 1));
    const rd2 = handle(node, st);
    expect(rd2.softState?.role).toBe('candidate');
    expect(rd2.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
  });

  it('ignores unknown, misaddressed and malformed messages', () => {
    const { node } = singleLeader();
    const before = node.status();
    node.step({ ...msg('app', 2, 1, 9), type: 'bogus' as MessageType });
    node.step(msg('app', 2, 7, 9));
    node.step(msg('app', 0, 1, 9));
    node.step(msg('heartbeat', 2, 1, 0));
    // Responses from nodes outside the configuration are ignored by the leader.
    node.step(msg('app-resp', 9, 1, before.term, { index: 100 }));
    // 2 and 9 are not members of this single-voter configuration: counted as refused.
    expect(node.status()).toEqual({ ...before, refusedMessages: 2 });
  });

  it('drops proposals with a typed reason', () => {
    const st = new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } });
    const node = new RawNode({ id: 2, random }, st);
    try {
      node.propose(new Uint8Array([1]));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProposalDroppedError);
      expect((e as ProposalDroppedError).reason).toBe('not-leader');
      expect((e as ProposalDroppedError).retriable).toBe(true);
    }
    expect(() => node.readIndex(new Uint8Array([1]))).toThrow(ProposalDroppedError);
    expect(() => node.transferLeadership(3)).toThrow(ProposalDroppedError);
  });

  it('refuses (does not assert on) a second leader in its term: remote input is not our invariant', () => {
    const st = new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } });
    const node = new RawNode({ id: 1, random, preVote: false }, st);
    node.campaign();
    handle(node, st);
    node.step(msg('vote-resp', 2, 1, 1));
    expect(node.status().role).toBe('leader');
    node.step(msg('app', 3, 1, 1));
    node.step(msg('heartbeat', 3, 1, 1, { commit: 99 }));
    expect(node.status()).toMatchObject({ role: 'leader', term: 1, refusedMessages: 2 });
  });

  it('refuses malformed messages before looking at their term', () => {
    const st = new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } });
    const node = new RawNode({ id: 1, random }, st);
    const entry = (index: number, term: number) => ({ index, term, type: 'normal' as const, data: new Uint8Array() });
    const bad: Message[] = [
      msg('heartbeat', 2, 1, 5, { commit: -1 }),
      msg('heartbeat', 2, 1, 5.5),
      msg('app', 2, 1, 5, { index: -3 }),
      msg('app', 2, 1, 5, { index: 0, entries: [entry(1, 1), entry(3, 1)] }),
      msg('app', 2, 1, 5, { index: 0, entries: [entry(1, 3), entry(2, 2)] }),
      msg('app', 2, 1, 5, { index: 0, entries: [entry(1, 6)] }),
      msg('app', 2, 1, 5, { index: 4, logTerm: 6 }),
      msg('app', 2, 1, 5, { index: 0, entries: [entry(2, 1)] }),
      msg('vote', 2, 1, 5, { index: 4, logTerm: 9 }),
      msg('heartbeat', 2, 1, 5, { entries: [entry(1, 1)] }),
      msg('snap', 2, 1, 5),
      msg('snap', 2, 1, 5, { snapshot: { metadata: { index: 4, term: 6, confState: { voters: [1, 2, 3], learners: [] } }, data: new Uint8Array() } }),
      msg('snap', 2, 1, 5, { snapshot: { metadata: { index: 4, term: 2, confState: { voters: [], learners: [] } }, data: new Uint8Array() } }),
    ];
    for (const m of bad) node.step(m);
    expect(node.status()).toMatchObject({ term: 0, lastIndex: 0, commit: 0, lead: 0, refusedMessages: bad.length });
    expect(node.hasReady()).toBe(false);
  });

  it('refuses a stored commit beyond the stored log', () => {
    const st = new MemoryStorage({ confState: { voters: [1], learners: [] } });
    st.setHardState({ term: 2, vote: 1, commit: 5 });
    expect(() => new RawNode({ id: 1, random }, st)).toThrow(AssertionError);
  });

  it('restarts from storage and redelivers committed entries after `applied`', () => {
    const { node, st } = singleLeader();
    node.propose(new TextEncoder().encode('x'));
    node.propose(new TextEncoder().encode('y'));
    while (node.hasReady()) handle(node, st);
    expect(node.status().commit).toBe(3);
    const again = new RawNode({ id: 1, random, applied: 2 }, st);
    const st2 = again.status();
    expect([st2.term, st2.vote, st2.commit, st2.applied, st2.role]).toEqual([1, 1, 3, 2, 'follower']);
    const rd = again.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([3]);
    again.advance(rd);
  });

  it('reports leader progress in status', () => {
    const st = new MemoryStorage({ confState: { voters: [1, 2], learners: [3] } });
    const node = new RawNode({ id: 1, random, preVote: false }, st);
    node.campaign();
    handle(node, st);
    node.step(msg('vote-resp', 2, 1, 1));
    handle(node, st);
    const s = node.status();
    expect(s.role).toBe('leader');
    expect([...(s.progress?.keys() ?? [])]).toEqual([1, 2, 3]);
    expect(s.progress?.get(3)?.isLearner).toBe(true);
    expect(s.progress?.get(1)?.match).toBe(1);
    expect(s.progress?.get(2)?.state).toBe('probe');
  });
});
