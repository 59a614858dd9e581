import { cpSync, existsSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileRaftStorage, StorageCorruptionError, parseFileRaftStorageOptions } from '../../src/adapters/index.js';
import { SnapshotOutOfDateError } from '../../src/memory-storage.js';
import { CompactedError, UnavailableError } from '../../src/types.js';
import { entries, plain, tempDir } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(): string {
  const d = tempDir('raft-storage');
  cleanups.push(d.remove);
  return d.path;
}

async function open(path: string, opts: { segmentBytes?: number; fsync?: boolean } = {}): Promise<FileRaftStorage> {
  const s = await FileRaftStorage.open({ dir: path, fsync: opts.fsync ?? false, ...(opts.segmentBytes === undefined ? {} : { segmentBytes: opts.segmentBytes }) });
  cleanups.push(() => s.close());
  return s;
}

function segmentFiles(path: string): string[] {
  const logDir = readdirSync(path).find((n) => n.startsWith('log-'))!;
  return readdirSync(join(path, logDir)).filter((n) => n.endsWith('.seg')).sort().map((n) => join(path, logDir, n));
}

function all(s: FileRaftStorage): ReturnType<typeof plain> {
  if (s.lastIndex() < s.firstIndex()) return [];
  return plain(s.entries(s.firstIndex(), s.lastIndex() + 1, Number.MAX_SAFE_INTEGER));
}

describe('FileRaftStorage', () => {
  it('starts empty with the boot membership, and keeps it across reopen', async () => {
    const path = dir();
    const s = await FileRaftStorage.open({ dir: path, fsync: false, confState: { voters: [1, 2, 3], learners: [4] } });
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(0);
    expect(s.term(0)).toBe(0);
    expect(s.initialState()).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, confState: { voters: [1, 2, 3], learners: [4] } });
    await s.close();
    await s.close(); // idempotent
    const again = await open(path);
    expect(again.initialState().confState).toEqual({ voters: [1, 2, 3], learners: [4] });
  });

  it('round-trips entries, terms and hard state across segments and a reopen', async () => {
    const path = dir();
    const s = await open(path, { segmentBytes: 200 });
    s.append(entries(1, 20, 1));
    s.append(entries(21, 40, 2));
    s.setHardState({ term: 2, vote: 3, commit: 35 });
    await s.sync();
    expect(segmentFiles(path).length).toBeGreaterThan(3);
    expect(all(s)).toEqual(plain([...entries(1, 20, 1), ...entries(21, 40, 2)]));
    expect(s.term(20)).toBe(1);
    expect(s.term(21)).toBe(2);
    expect(() => s.term(41)).toThrow(UnavailableError);
    expect(() => s.entries(1, 42, 1000)).toThrow(UnavailableError);
    // maxBytes counts payload bytes and always returns at least one entry.
    expect(s.entries(3, 40, 40).map((e) => e.index)).toEqual([3, 4]);
    expect(s.entries(3, 40, 0).map((e) => e.index)).toEqual([3]);
    await s.close();

    const r = await open(path, { segmentBytes: 200 });
    expect(r.firstIndex()).toBe(1);
    expect(r.lastIndex()).toBe(40);
    expect(all(r)).toEqual(plain([...entries(1, 20, 1), ...entries(21, 40, 2)]));
    expect(r.initialState().hardState).toEqual({ term: 2, vote: 3, commit: 35 });
    r.append(entries(41, 45, 3));
    expect(r.term(45)).toBe(3);
  });

  it('makes term and vote durable at sync, and writes a commit-only change lazily', async () => {
    const path = dir();
    const s = await open(path);
    s.append(entries(1, 10, 1));
    s.setHardState({ term: 1, vote: 2, commit: 3 });
    await s.sync();
    s.setHardState({ term: 1, vote: 2, commit: 8 }); // commit only
    await s.sync();
    const crashed = dir();
    cpSync(path, crashed, { recursive: true }); // what a crash right now would leave
    s.setHardState({ term: 2, vote: 3, commit: 9 });
    await s.sync();
    const crashedLater = dir();
    cpSync(path, crashedLater, { recursive: true });
    await s.close();

    expect((await open(crashed)).initialState().hardState).toEqual({ term: 1, vote: 2, commit: 3 });
    expect((await open(crashedLater)).initialState().hardState).toEqual({ term: 2, vote: 3, commit: 9 });
    expect((await open(path)).initialState().hardState).toEqual({ term: 2, vote: 3, commit: 9 });
  });

  it('reads entries back from disk when they are out of the cache', async () => {
    const path = dir();
    const s = await FileRaftStorage.open({ dir: path, fsync: false, segmentBytes: 300, cacheBytesMax: 32 });
    cleanups.push(() => s.close());
    s.append(entries(1, 50, 4));
    expect(all(s)).toEqual(plain(entries(1, 50, 4)));
  });

  it('overwrites a conflicting tail, within a segment and across segments', async () => {
    const path = dir();
    const s = await open(path, { segmentBytes: 150 });
    s.append(entries(1, 30, 1));
    s.append(entries(25, 27, 2)); // within the tail segment
    expect(s.lastIndex()).toBe(27);
    s.append(entries(5, 6, 3)); // reaches back over several segments
    expect(s.lastIndex()).toBe(6);
    expect(all(s)).toEqual(plain([...entries(1, 4, 1), ...entries(5, 6, 3)]));
    s.append(entries(7, 12, 3));
    await s.sync();
    await s.close();
    const r = await open(path, { segmentBytes: 150 });
    expect(all(r)).toEqual(plain([...entries(1, 4, 1), ...entries(5, 12, 3)]));
    // Entries already compacted are skipped; a gap is an invariant violation.
    expect(() => r.append(entries(14, 15, 3))).toThrow(/gap/);
  });

  it('creates snapshots, compacts whole segments below them, and keeps the compaction point across reopen', async () => {
    const path = dir();
    const s = await open(path, { segmentBytes: 150 });
    s.append(entries(1, 40, 1));
    s.setHardState({ term: 1, vote: 1, commit: 40 });
    await s.sync();
    const before = segmentFiles(path).length;
    const snap = await s.createSnapshot(25, { voters: [1, 2, 3], learners: [] }, new Uint8Array([9, 9]));
    expect(snap.metadata).toEqual({ index: 25, term: 1, confState: { voters: [1, 2, 3], learners: [] } });
    expect(s.firstIndex()).toBe(1); // createSnapshot does not compact
    await expect(s.createSnapshot(25, { voters: [1], learners: [] }, new Uint8Array())).rejects.toThrow(SnapshotOutOfDateError);
    s.compact(25);
    expect(s.firstIndex()).toBe(26);
    expect(s.term(25)).toBe(1);
    expect(() => s.term(24)).toThrow(CompactedError);
    expect(() => s.entries(25, 30, 100)).toThrow(CompactedError);
    expect(() => s.compact(20)).toThrow(CompactedError);
    await s.sync();
    expect(segmentFiles(path).length).toBeLessThan(before);
    await s.close();

    const r = await open(path, { segmentBytes: 150 });
    expect(r.firstIndex()).toBe(26);
    expect(r.lastIndex()).toBe(40);
    expect(r.term(25)).toBe(1);
    expect(r.snapshot().metadata.index).toBe(25);
    expect([...r.snapshot().data]).toEqual([9, 9]);
    expect(r.initialState().confState).toEqual({ voters: [1, 2, 3], learners: [] });
    expect(all(r)).toEqual(plain(entries(26, 40, 1)));
  });

  it('applies a snapshot: the log resets to after it, and appends continue from there', async () => {
    const path = dir();
    const s = await open(path, { segmentBytes: 150 });
    s.append(entries(1, 30, 1));
    await s.sync();
    const snap = { metadata: { index: 100, term: 5, confState: { voters: [1, 2], learners: [3] } }, data: new Uint8Array([1, 2, 3]) };
    await s.persist({ snapshot: snap, entries: entries(101, 103, 5), hardState: { term: 5, vote: 0, commit: 100 } });
    expect(s.firstIndex()).toBe(101);
    expect(s.lastIndex()).toBe(103);
    expect(s.term(100)).toBe(5);
    expect(() => s.term(99)).toThrow(CompactedError);
    await expect(s.applySnapshot({ ...snap, metadata: { ...snap.metadata, index: 90 } })).rejects.toThrow(SnapshotOutOfDateError);
    await s.close();
    // Only the new log generation and snapshot remain.
    expect(readdirSync(path).sort()).toEqual(['log-00000001', 'raft-state', `snapshot-${'100'.padStart(20, '0')}-${'5'.padStart(20, '0')}.snap`]);

    const r = await open(path, { segmentBytes: 150 });
    expect(r.initialState()).toEqual({ hardState: { term: 5, vote: 0, commit: 100 }, confState: { voters: [1, 2], learners: [3] } });
    expect(all(r)).toEqual(plain(entries(101, 103, 5)));
    expect([...r.snapshot().data]).toEqual([1, 2, 3]);
  });

  it('rejects writes that overlap an asynchronous operation, and use after close', async () => {
    const s = await open(dir());
    s.append(entries(1, 3, 1));
    const syncing = s.sync();
    expect(() => s.append(entries(4, 4, 1))).toThrow(/asynchronous/);
    await syncing;
    s.append(entries(4, 4, 1));
    await s.close();
    expect(() => s.term(1)).toThrow(/closed/);
  });

  it('validates its options once, naming every bad field', () => {
    expect(() => parseFileRaftStorageOptions({ dir: '', segmentBytes: 0, cacheBytesMax: -1, recordBytesMax: 1.5 }))
      .toThrow(/dir must be a non-empty path; segmentBytes must be a positive integer, got 0; cacheBytesMax .* got -1; recordBytesMax .* got 1.5/);
  });

  it('refuses an entry over recordBytesMax, and never recovers a record claiming more', async () => {
    const path = dir();
    const s = await FileRaftStorage.open({ dir: path, fsync: false, recordBytesMax: 100 });
    s.append(entries(1, 2, 1, 50));
    expect(() => s.append(entries(3, 3, 1, 80))).toThrow(/over recordBytesMax 100/);
    await s.close();
    // The same bytes opened with a smaller limit: the tail record is over it and is cut like a torn one.
    const r = await FileRaftStorage.open({ dir: path, fsync: false, recordBytesMax: 8 + 17 + 40 });
    expect(r.lastIndex()).toBe(0);
    await r.close();
  });

  it('fsyncs when asked to (smoke test of the durable path)', async () => {
    const path = dir();
    const s = await FileRaftStorage.open({ dir: path, fsync: true, segmentBytes: 100 });
    await s.persist({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 1, commit: 2 } });
    expect(() => s.append(entries(2, 2, 2))).toThrow(/truncate committed entries/);
    s.append(entries(3, 4, 2));
    await s.sync();
    await s.close();
    const r = await open(path);
    expect(all(r)).toEqual(plain([...entries(1, 2, 1), ...entries(3, 4, 2)]));
  });
});

describe('FileRaftStorage crash recovery', () => {
  const N = 12;

  /** A closed store holding entries 1..N (N alone in the tail segment when `lastAlone`). */
  async function template(lastAlone: boolean): Promise<{ path: string; lastStart: number; lastEnd: number; tail: string }> {
    const path = dir();
    const s = await open(path, { segmentBytes: lastAlone ? 1 : 1 << 20 });
    s.append(entries(1, N - 1, 1));
    s.append(entries(N, N, 2));
    s.setHardState({ term: 2, vote: 1, commit: N - 1 });
    await s.close();
    const tail = segmentFiles(path).at(-1)!;
    const lastEnd = statSync(tail).size;
    const lastStart = lastAlone ? 0 : lastEnd - (8 + 17 + 16);
    return { path, lastStart, lastEnd, tail };
  }

  async function expectRecoveredTo(path: string, lastIndex: number): Promise<void> {
    const r = await open(path, { segmentBytes: 1 << 20 });
    expect(r.lastIndex()).toBe(lastIndex);
    expect(all(r)).toEqual(plain(entries(1, lastIndex, 1)));
    // Appends continue after the cut, and survive another reopen.
    r.append(entries(lastIndex + 1, lastIndex + 2, 3));
    await r.close();
    const again = await open(path);
    expect(all(again)).toEqual(plain([...entries(1, lastIndex, 1), ...entries(lastIndex + 1, lastIndex + 2, 3)]));
    await again.close();
  }

  for (const lastAlone of [false, true]) {
    it(`cuts the tail segment at every byte of the last entry (last entry ${lastAlone ? 'alone in its segment' : 'shares its segment'})`, async () => {
      const t = await template(lastAlone);
      for (let cut = t.lastStart; cut < t.lastEnd; cut++) {
        const copy = dir();
        cpSync(t.path, copy, { recursive: true });
        truncateSync(join(copy, t.tail.slice(t.path.length)), cut);
        await expectRecoveredTo(copy, N - 1);
      }
      const whole = dir();
      cpSync(t.path, whole, { recursive: true });
      const r = await open(whole);
      expect(r.lastIndex()).toBe(N);
    });

    it(`drops the last entry when any of its bytes is flipped (last entry ${lastAlone ? 'alone' : 'shared'})`, async () => {
      const t = await template(lastAlone);
      for (let at = t.lastStart; at < t.lastEnd; at++) {
        const copy = dir();
        cpSync(t.path, copy, { recursive: true });
        const file = join(copy, t.tail.slice(t.path.length));
        const bytes = readFileSync(file);
        bytes[at] = bytes[at]! ^ 0x5a;
        writeFileSync(file, bytes);
        await expectRecoveredTo(copy, N - 1);
      }
    });
  }

  it('keeps the old hard state when the new one was torn in its temp file', async () => {
    const path = dir();
    const s = await open(path);
    s.append(entries(1, 5, 1));
    s.setHardState({ term: 1, vote: 2, commit: 3 });
    await s.close();
    // The bytes a newer state would have had: written by a store in another directory.
    const other = dir();
    const o = await open(other);
    o.append(entries(1, 5, 1));
    o.setHardState({ term: 7, vote: 3, commit: 5 });
    await o.close();
    const newer = readFileSync(join(other, 'raft-state'));
    for (let cut = 0; cut <= newer.length; cut++) {
      const copy = dir();
      cpSync(path, copy, { recursive: true });
      writeFileSync(join(copy, 'raft-state.tmp'), newer.subarray(0, cut));
      const r = await open(copy);
      expect(r.initialState().hardState).toEqual({ term: 1, vote: 2, commit: 3 });
      expect(existsSync(join(copy, 'raft-state.tmp'))).toBe(false);
      await r.close();
    }
  });

  it('refuses a corrupt state file, a bad sealed segment, and a log shorter than the commit index', async () => {
    const path = dir();
    const s = await open(path, { segmentBytes: 100 });
    s.append(entries(1, 20, 1));
    s.setHardState({ term: 1, vote: 1, commit: 20 });
    await s.close();

    const badState = dir();
    cpSync(path, badState, { recursive: true });
    const state = readFileSync(join(badState, 'raft-state'));
    state[state.length - 1] = state[state.length - 1]! ^ 1;
    writeFileSync(join(badState, 'raft-state'), state);
    await expect(FileRaftStorage.open({ dir: badState })).rejects.toThrow(StorageCorruptionError);

    const badSealed = dir();
    cpSync(path, badSealed, { recursive: true });
    const first = segmentFiles(badSealed)[0]!;
    const seg = readFileSync(first);
    seg[10] = seg[10]! ^ 1;
    writeFileSync(first, seg);
    await expect(FileRaftStorage.open({ dir: badSealed })).rejects.toThrow(/sealed segment/);

    const shortLog = dir();
    cpSync(path, shortLog, { recursive: true });
    const tail = segmentFiles(shortLog).at(-1)!;
    truncateSync(tail, statSync(tail).size - 1);
    const err = await FileRaftStorage.open({ dir: shortLog }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as StorageCorruptionError).message).toMatch(/before the persisted commit index 20/);
  });

  it('removes leftovers of operations that crashed around their commit point', async () => {
    const path = dir();
    const s = await open(path);
    s.append(entries(1, 5, 1));
    await s.close();
    // A snapshot and a log generation that raft-state never came to name.
    writeFileSync(join(path, `snapshot-${'9'.padStart(20, '0')}-${'1'.padStart(20, '0')}.snap`), 'x');
    cpSync(join(path, 'log-00000000'), join(path, 'log-00000001'), { recursive: true });
    const r = await open(path);
    expect(r.lastIndex()).toBe(5);
    expect(readdirSync(path).sort()).toEqual(['log-00000000', 'raft-state']);
  });
});
