// FileRaftStorage must be indistinguishable from MemoryStorage (the reference implementation of the
// RaftStorage contract) under any valid sequence of driver writes, including reopening the files.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { FileRaftStorage } from '../../src/adapters/index.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import type { ConfState, Entry, RaftStorage } from '../../src/types.js';
import { plain, tempDir } from './helpers.js';

const BOOT: ConfState = { voters: [1, 2, 3], learners: [] };

/** One driver write, with parameters as fractions so every choice is valid in the current state. */
type Op =
  | { kind: 'append'; at: number; count: number; termBump: number; payloadBytes: number }
  | { kind: 'hard-state'; termBump: number; vote: number; commit: number }
  | { kind: 'create-snapshot'; at: number }
  | { kind: 'compact'; at: number }
  | { kind: 'apply-snapshot'; ahead: number }
  | { kind: 'reopen' };

const fraction = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), at: fraction, count: fc.integer({ min: 1, max: 12 }), termBump: fc.integer({ min: 0, max: 2 }), payloadBytes: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('hard-state' as const), termBump: fc.integer({ min: 0, max: 1 }), vote: fc.integer({ min: 0, max: 3 }), commit: fraction }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('create-snapshot' as const), at: fraction }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), at: fraction }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('apply-snapshot' as const), ahead: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

function pick(lo: number, hi: number, f: number): number {
  return lo + Math.floor(f * (hi - lo + 1));
}

function snapshotOf(s: RaftStorage): unknown {
  const snap = s.snapshot();
  return { metadata: snap.metadata, data: [...snap.data] };
}

function observe(s: RaftStorage): unknown {
  const first = s.firstIndex();
  const last = s.lastIndex();
  const terms: number[] = [];
  for (let i = first - 1; i <= last; i++) terms.push(s.term(i));
  return {
    first, last, terms,
    entries: last >= first ? plain(s.entries(first, last + 1, Number.MAX_SAFE_INTEGER)) : [],
    limited: last >= first ? s.entries(first, last + 1, 50).length : 0,
    snapshot: snapshotOf(s),
    initialState: s.initialState(),
  };
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('FileRaftStorage conforms to MemoryStorage', () => {
  it('gives the same answers after any valid sequence of writes and reopens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 60, max: 400 }), async (ops, segmentBytes) => {
        const dir = tempDir('raft-conformance');
        const open = () => FileRaftStorage.open({ dir: dir.path, fsync: false, segmentBytes, confState: BOOT });
        const mem = new MemoryStorage({ confState: BOOT });
        let file = await open();
        let serial = 0;
        try {
          for (const op of ops) {
            const hs = mem.initialState().hardState;
            const last = mem.lastIndex();
            const first = mem.firstIndex();
            switch (op.kind) {
              case 'append': {
                // Start anywhere in (commit, lastIndex + 1]: raft never rewrites committed entries.
                const lo = Math.max(first, hs.commit + 1);
                const start = pick(lo, last + 1, op.at);
                const term = mem.term(start - 1) + op.termBump || 1;
                const es: Entry[] = [];
                for (let k = 0; k < op.count; k++) {
                  const data = new Uint8Array(op.payloadBytes).fill(++serial % 251);
                  es.push({ index: start + k, term, type: serial % 5 === 0 ? 'conf-change' : 'normal', data });
                }
                mem.append(es);
                file.append(es);
                break;
              }
              case 'hard-state': {
                const next = { term: hs.term + op.termBump, vote: op.vote, commit: pick(hs.commit, last, op.commit) };
                mem.setHardState(next);
                file.setHardState(next);
                break;
              }
              case 'create-snapshot': {
                const lo = Math.max(mem.snapshot().metadata.index + 1, first - 1);
                if (lo > last) break;
                const at = pick(lo, last, op.at);
                const data = new Uint8Array([at % 256, 7]);
                const cs: ConfState = { voters: [1, 2], learners: [at % 5 + 3] };
                const a = mem.createSnapshot(at, cs, data);
                const b = await file.createSnapshot(at, cs, data);
                expect({ ...b, data: [...b.data] }).toEqual({ ...a, data: [...a.data] });
                break;
              }
              case 'compact': {
                if (first > last) break;
                const at = pick(first, last, op.at);
                mem.compact(at);
                file.compact(at);
                break;
              }
              case 'apply-snapshot': {
                // A follower installs a snapshot only beyond its commit index.
                const index = Math.max(mem.snapshot().metadata.index, hs.commit, last) + op.ahead;
                const snap = { metadata: { index, term: hs.term + 1, confState: { voters: [1, 2, 3, 4], learners: [] } }, data: new Uint8Array([index % 256]) };
                mem.applySnapshot(snap);
                await file.applySnapshot(snap);
                mem.setHardState({ ...hs, term: hs.term + 1, commit: index });
                file.setHardState({ ...hs, term: hs.term + 1, commit: index });
                break;
              }
              case 'reopen':
                await file.sync();
                await file.close();
                file = await open();
                break;
            }
            expect(observe(file)).toEqual(observe(mem));
          }
          await file.close();
          file = await open();
          expect(observe(file)).toEqual(observe(mem));
        } finally {
          await file.close();
          dir.remove();
        }
      }),
      { numRuns: 150 },
    );
  });
});
