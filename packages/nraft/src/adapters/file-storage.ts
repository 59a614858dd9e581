// FileRaftStorage: nraft's RaftStorage port on the local file system.
//
// Layout of `dir`:
//   raft-state                  hard state, conf state, compaction point, log generation and the
//                               stored snapshot's (index, term). Rewritten atomically; it is the
//                               store's single commit point: anything it does not reference is garbage.
//   snapshot-<index>-<term>.snap the stored snapshot (written atomically before raft-state names it)
//   log-<generation>/<first index>.seg
//                               segments of CRC32C-checked entry records (see log-record.ts); a new
//                               generation starts empty when a snapshot replaces the log.
//
// Write contract (the driver's side): `append`, `setHardState`, `setConfState` and `compact` change
// what the reads return at once; they are durable only once `sync()` resolves, so the driver must
// await `sync()` (or `persist(ready)`, which does all of it in order) before sending the messages of
// that Ready. `applySnapshot` and `createSnapshot` are durable when they resolve. Writes must not
// overlap an asynchronous operation (the driver's loop serializes them); doing so is an AssertionError.
//
// Recovery (open): the tail segment is scanned and cut at the first record whose length or checksum
// does not hold (a torn write); a bad record anywhere else, a gap between segments or a log shorter
// than the persisted commit index is a StorageCorruptionError.
//
// Why one file past 600 lines: the crash-consistency argument above is one unit — raft-state is the
// single commit point for segments, the snapshot file and the log generation, and every write and the
// recovery scan are written against it. The record format lives in log-record.ts, the state file in
// state-file.ts.
import { fdatasync, ftruncateSync, fsyncSync, closeSync, openSync, readFileSync, readSync, readdirSync, unlinkSync, writeSync, type PathLike } from 'node:fs';
import { mkdir, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CompactedError, EMPTY_HARD_STATE, UnavailableError,
  type ConfState, type Entry, type HardState, type Logger, type RaftStorage, type Snapshot,
} from '../types.js';
import { invariant } from '../errors.js';
import { SnapshotOutOfDateError } from '../memory-storage.js';
import { StorageCorruptionError } from './adapter-errors.js';
import { decodeRecord, encodeRecordInto, recordBytes } from './log-record.js';
import {
  TEMP_SUFFIX, decodeSnapshot, decodeState, encodeSnapshot, encodeState, syncDirectory, writeFileAtomic,
  type StoreState,
} from './state-file.js';

const fdatasyncAsync = promisify(fdatasync);

/** Roll to a new segment once the active one holds this many bytes (one record may go past it). */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Recently appended entries kept in memory for replication; older ones are read back from disk. */
export const DEFAULT_CACHE_BYTES_MAX = 16 * 1024 * 1024;
/** Largest record (header + term + index + type + data) accepted on write or recovery. */
export const DEFAULT_RECORD_BYTES_MAX = 64 * 1024 * 1024;

export interface FileRaftStorageOptions {
  readonly dir: string;
  readonly segmentBytes?: number;
  /** false skips every fsync (benchmarks, tests); a crash may then lose acknowledged writes. */
  readonly fsync?: boolean;
  readonly cacheBytesMax?: number;
  readonly recordBytesMax?: number;
  /** The membership a brand-new store boots with (ignored when the directory already holds a store). */
  readonly confState?: ConfState;
  readonly logger?: Logger;
}

export interface FileRaftStorageConfig {
  readonly dir: string;
  readonly segmentBytes: number;
  readonly fsync: boolean;
  readonly cacheBytesMax: number;
  readonly recordBytesMax: number;
}

/** Validates options once; names every bad field. */
export function parseFileRaftStorageOptions(options: FileRaftStorageOptions): FileRaftStorageConfig {
  const config: FileRaftStorageConfig = {
    dir: options.dir,
    segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
    fsync: options.fsync ?? true,
    cacheBytesMax: options.cacheBytesMax ?? DEFAULT_CACHE_BYTES_MAX,
    recordBytesMax: options.recordBytesMax ?? DEFAULT_RECORD_BYTES_MAX,
  };
  const problems: string[] = [];
  if (typeof config.dir !== 'string' || config.dir.length === 0) problems.push('dir must be a non-empty path');
  for (const field of ['segmentBytes', 'cacheBytesMax', 'recordBytesMax'] as const) {
    const v = config[field];
    if (!Number.isSafeInteger(v) || v <= 0) problems.push(`${field} must be a positive integer, got ${v}`);
  }
  if (config.recordBytesMax > 0x7fff_ffff) problems.push(`recordBytesMax must be < 2 GiB, got ${config.recordBytesMax}`);
  if (problems.length > 0) throw new RangeError(`invalid FileRaftStorage options: ${problems.join('; ')}`);
  return config;
}

const STATE_FILE = 'raft-state';
const SEGMENT_NAME = /^(\d{20})\.seg$/;
const LOG_DIR_NAME = /^log-(\d{8,})$/;
const SNAPSHOT_NAME = /^snapshot-\d{20}-\d{20}\.snap$/;

const EMPTY_CONF_STATE: ConfState = { voters: [], learners: [] };

function copyConfState(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}

const NOOP_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function segmentName(firstIndex: number): string {
  return `${String(firstIndex).padStart(20, '0')}.seg`;
}

function logDirName(generation: number): string {
  return `log-${String(generation).padStart(8, '0')}`;
}

function snapshotName(index: number, term: number): string {
  return `snapshot-${String(index).padStart(20, '0')}-${String(term).padStart(20, '0')}.snap`;
}

/** One open segment file. Records are contiguous: record k holds index firstIndex + k. */
interface Segment {
  readonly firstIndex: number;
  readonly path: string;
  readonly fd: number;
  bytes: number;
  /** Byte offset of each record. */
  readonly positions: number[];
  readonly terms: number[];
}

function segmentLastIndex(s: Segment): number {
  return s.firstIndex + s.positions.length - 1;
}

/** A contiguous run of recent entries, [first, first + length), bounded by cacheBytesMax. */
class EntryCache {
  private entries: Entry[] = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  get(index: number): Entry | undefined {
    const first = this.entries[this.head];
    if (first === undefined || index < first.index) return undefined;
    return this.entries[this.head + index - first.index];
  }

  /** `entries` must continue the cached run (or the cache is restarted at entries[0]). */
  push(entries: readonly Entry[]): void {
    const last = this.entries[this.entries.length - 1];
    const first = entries[0];
    if (first === undefined) return;
    if (last === undefined || this.head >= this.entries.length || last.index + 1 !== first.index) this.clear();
    for (const e of entries) {
      this.entries.push(e);
      this.bytes += e.data.byteLength;
    }
    while (this.bytes > this.bytesMax && this.head < this.entries.length - 1) {
      this.bytes -= this.entries[this.head]!.data.byteLength;
      this.head++;
    }
    this.compactArray();
  }

  /** Drops entries with index >= `index` (a truncated tail). */
  truncateFrom(index: number): void {
    while (this.entries.length > this.head && this.entries[this.entries.length - 1]!.index >= index) {
      this.bytes -= this.entries.pop()!.data.byteLength;
    }
  }

  /** Drops entries with index <= `index` (compacted). */
  dropThrough(index: number): void {
    while (this.head < this.entries.length && this.entries[this.head]!.index <= index) {
      this.bytes -= this.entries[this.head]!.data.byteLength;
      this.head++;
    }
    this.compactArray();
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
  }

  private compactArray(): void {
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

/** What `persist` needs from a Ready: the parts that go to stable storage. */
export interface PersistableReady {
  readonly snapshot?: Snapshot | undefined;
  readonly entries: readonly Entry[];
  readonly hardState?: HardState | undefined;
}

export class FileRaftStorage implements RaftStorage {
  private hardState: HardState;
  /** The boot membership: the conf state of the empty snapshot, before any real one exists. */
  private readonly bootConfState: ConfState;
  private logStart: { index: number; term: number };
  private logGeneration: number;
  private snap: Snapshot;
  private segments: Segment[];
  private readonly cache: EntryCache;
  /** Segments written since the last sync. */
  private readonly dirtySegments = new Set<Segment>();
  /** Segments created or removed since the last sync: the log directory needs an fsync. */
  private logDirDirty = false;
  /** raft-state must be rewritten at the next sync (term, vote, compaction point or snapshot changed). */
  private stateDirty = false;
  /** Only the commit index changed since raft-state was written: rewritten lazily (see setHardState). */
  private commitDirty = false;
  /** Compacted segments, deleted once the new compaction point is durable in raft-state. */
  private readonly compactedSegments: Segment[] = [];
  /** Serializes the asynchronous operations; `pending` counts those queued or running. */
  private chain: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly config: FileRaftStorageConfig,
    private readonly logger: Logger,
    state: StoreState,
    snapshot: Snapshot,
    segments: Segment[],
  ) {
    this.hardState = state.hardState;
    this.bootConfState = state.confState;
    this.logStart = { ...state.logStart };
    this.logGeneration = state.logGeneration;
    this.snap = snapshot;
    this.segments = segments;
    this.cache = new EntryCache(config.cacheBytesMax);
  }

  /** Opens (creating if needed) the store in `options.dir` and recovers it; see the file comment. */
  static async open(options: FileRaftStorageOptions): Promise<FileRaftStorage> {
    const config = parseFileRaftStorageOptions(options);
    const logger = options.logger ?? NOOP_LOGGER;
    await mkdir(config.dir, { recursive: true });
    const names = await readdir(config.dir);
    // A temp file is a write that never reached its rename: the file it was replacing is intact.
    for (const name of names.filter((n) => n.endsWith(TEMP_SUFFIX))) await unlink(join(config.dir, name));

    const statePath = join(config.dir, STATE_FILE);
    const fresh = !names.includes(STATE_FILE);
    const state: StoreState = fresh
      ? {
          hardState: EMPTY_HARD_STATE, confState: copyConfState(options.confState ?? EMPTY_CONF_STATE),
          logStart: { index: 0, term: 0 }, logGeneration: 0, snapshot: { index: 0, term: 0 },
        }
      : decodeState(await readFile(statePath), statePath);
    // The boot membership must survive a crash before the first sync.
    if (fresh) await writeFileAtomic({ dir: config.dir, name: STATE_FILE, bytes: encodeState(state), fsync: config.fsync });

    let snapshot: Snapshot = { metadata: { index: 0, term: 0, confState: state.confState }, data: new Uint8Array(0) };
    const snapName = snapshotName(state.snapshot.index, state.snapshot.term);
    if (state.snapshot.index > 0) {
      const path = join(config.dir, snapName);
      snapshot = decodeSnapshot(await readFile(path).catch((err: unknown) => {
        throw new StorageCorruptionError('snapshot named by raft-state is unreadable', path, -1, { cause: err });
      }), path);
      if (snapshot.metadata.index !== state.snapshot.index || snapshot.metadata.term !== state.snapshot.term) {
        throw new StorageCorruptionError('snapshot metadata does not match raft-state', path);
      }
    }

    // Garbage from operations that crashed before (or after) their commit point.
    const logDir = logDirName(state.logGeneration);
    for (const name of names) {
      const stale = (LOG_DIR_NAME.test(name) && name !== logDir) || (SNAPSHOT_NAME.test(name) && (state.snapshot.index === 0 || name !== snapName));
      if (stale) {
        logger.info({ path: join(config.dir, name) }, 'removing unreferenced raft storage file');
        await rm(join(config.dir, name), { recursive: true, force: true });
      }
    }
    await mkdir(join(config.dir, logDir), { recursive: true });

    const segments = recoverSegments({ dir: join(config.dir, logDir), logStart: state.logStart, config, logger });
    const storage = new FileRaftStorage(config, logger, state, snapshot, segments);
    const lastIndex = storage.lastIndex();
    if (state.hardState.commit > lastIndex) {
      storage.closeSegments();
      throw new StorageCorruptionError(
        `log ends at ${lastIndex}, before the persisted commit index ${state.hardState.commit}`, join(config.dir, logDir));
    }
    logger.info({ dir: config.dir, firstIndex: storage.firstIndex(), lastIndex, segments: segments.length,
      term: state.hardState.term, commit: state.hardState.commit, snapshotIndex: snapshot.metadata.index }, 'raft storage opened');
    return storage;
  }

  // ---- RaftStorage (reads) ----

  /** As MemoryStorage: the membership is the snapshot point's (the boot membership before any snapshot). */
  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  firstIndex(): number {
    return this.logStart.index + 1;
  }

  lastIndex(): number {
    const tail = this.segments[this.segments.length - 1];
    return tail === undefined ? this.logStart.index : segmentLastIndex(tail);
  }

  term(i: number): number {
    this.assertOpen();
    if (i < this.logStart.index) throw new CompactedError(i);
    if (i === this.logStart.index) return this.logStart.term;
    if (i > this.lastIndex()) throw new UnavailableError(i);
    const { segment, k } = this.locate(i);
    return segment.terms[k]!;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    this.assertOpen();
    if (lo <= this.logStart.index) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    invariant(lo <= hi, () => `entries: lo ${lo} > hi ${hi}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.cache.get(i) ?? this.readEntry(i);
      bytes += e.data.byteLength;
      // Always return at least one entry, even when it alone exceeds maxBytes.
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // ---- Driver-side writes ----

  /**
   * Appends entries; entries at or below lastIndex() replace the log from the first of them on (a
   * conflicting tail is truncated first). Entries at or below the compaction point are ignored.
   * Visible at once, durable after sync().
   */
  append(entries: readonly Entry[]): void {
    this.assertWritable('append');
    const e0 = entries[0];
    if (e0 === undefined) return;
    const first = this.firstIndex();
    if (e0.index + entries.length - 1 < first) return;
    const todo = e0.index < first ? entries.slice(first - e0.index) : entries;
    const start = todo[0]!.index;
    invariant(start <= this.lastIndex() + 1, () => `append at ${start} leaves a gap after lastIndex ${this.lastIndex()}`);
    todo.forEach((e, k) => {
      invariant(e.index === start + k, () => `append: entry ${k} has index ${e.index}, expected ${start + k}`);
      invariant(Number.isSafeInteger(e.term) && e.term > 0, () => `append: bad term ${e.term} at ${e.index}`);
      invariant(k === 0 || e.term >= todo[k - 1]!.term, () => `append: term goes back at ${e.index}`);
    });
    if (start <= this.lastIndex()) {
      // Raft never replaces a committed entry (Log Matching + Leader Completeness).
      invariant(start > this.hardState.commit, () => `append at ${start} would truncate committed entries (commit ${this.hardState.commit})`);
      this.truncateFrom(start);
    }
    invariant(todo[0]!.term >= this.term(start - 1), () => `append: term ${todo[0]!.term} at ${start} is below the previous entry's`);
    this.writeEntries(todo);
    this.cache.push(todo);
  }

  /**
   * Records the hard state. A new term or vote is durable after sync() (raft's safety rests on them:
   * Figure 2). A change of the commit index alone is written with the next raft-state rewrite (a term,
   * vote, compaction or snapshot change, or close) rather than costing an atomic file replacement per
   * Ready: the commit index is volatile state in Raft (§5.3, a restarted node relearns it from the
   * leader), and a stale one is always <= the durable log's end, which is all recovery needs.
   */
  setHardState(hs: HardState): void {
    this.assertWritable('setHardState');
    invariant(hs.term >= this.hardState.term, () => `hard state term goes back: ${this.hardState.term} -> ${hs.term}`);
    invariant(hs.commit <= this.lastIndex(), () => `hard state commit ${hs.commit} beyond lastIndex ${this.lastIndex()}`);
    if (hs.term !== this.hardState.term || hs.vote !== this.hardState.vote) this.stateDirty = true;
    else if (hs.commit !== this.hardState.commit) this.commitDirty = true;
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  /**
   * Discards log entries before `index` (firstIndex() becomes index + 1; term(index) stays known).
   * Whole segments below it are deleted after the next sync() makes the new compaction point durable.
   * Throws CompactedError when `index` is already compacted.
   */
  compact(index: number): void {
    this.assertWritable('compact');
    if (index <= this.logStart.index) throw new CompactedError(index);
    invariant(index <= this.lastIndex(), () => `compact ${index} is beyond lastIndex ${this.lastIndex()}`);
    this.logStart = { index, term: this.term(index) };
    this.stateDirty = true;
    while (this.segments[0] !== undefined && segmentLastIndex(this.segments[0]) <= index) {
      this.compactedSegments.push(this.segments.shift()!);
    }
    this.cache.dropThrough(index);
  }

  /** Makes every write so far durable (fsync of the segments, the log directory and raft-state). */
  sync(): Promise<void> {
    return this.exclusive(() => this.flush());
  }

  /** Persists the stable-storage part of a Ready in the order raft needs, then syncs. */
  async persist(ready: PersistableReady): Promise<void> {
    if (ready.snapshot !== undefined && ready.snapshot.metadata.index > 0) await this.applySnapshot(ready.snapshot);
    this.append(ready.entries);
    if (ready.hardState !== undefined) this.setHardState(ready.hardState);
    await this.sync();
  }

  /**
   * Replaces the log with `snap` (received from the leader): afterwards firstIndex() is
   * snap.index + 1, the log is empty and the conf state is the snapshot's. Durable when resolved.
   */
  applySnapshot(snap: Snapshot): Promise<void> {
    return this.exclusive(async () => {
      const { index, term } = snap.metadata;
      if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(index, this.snap.metadata.index);
      const oldSnapName = this.snap.metadata.index > 0 ? snapshotName(this.snap.metadata.index, this.snap.metadata.term) : undefined;
      await writeFileAtomic({ dir: this.config.dir, name: snapshotName(index, term), bytes: encodeSnapshot(snap), fsync: this.config.fsync });
      const oldLogDir = this.logDir();
      const oldSegments = [...this.compactedSegments.splice(0), ...this.segments];
      this.logGeneration++;
      await mkdir(this.logDir());
      if (this.config.fsync) await syncDirectory(this.config.dir);
      this.segments = [];
      this.dirtySegments.clear();
      this.logDirDirty = false;
      this.cache.clear();
      this.logStart = { index, term };
      this.snap = snap;
      // The snapshot is committed state: a restart must never see a commit index below it.
      if (this.hardState.commit < index) this.hardState = { ...this.hardState, commit: index };
      this.stateDirty = true;
      await this.flush(); // the commit point: raft-state now names the new snapshot and log generation
      for (const s of oldSegments) closeSync(s.fd);
      await rm(oldLogDir, { recursive: true, force: true });
      if (oldSnapName !== undefined) await unlink(join(this.config.dir, oldSnapName));
      this.logger.info({ index, term }, 'raft snapshot applied, log reset');
    });
  }

  /**
   * Stores a snapshot of the application state at `index` (<= lastIndex()); the log is untouched
   * (call compact() to drop entries). Durable when resolved; throws SnapshotOutOfDateError when
   * `index` is not newer than the stored snapshot.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.exclusive(async () => {
      if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(index, this.snap.metadata.index);
      invariant(index <= this.lastIndex(), () => `createSnapshot ${index} is beyond lastIndex ${this.lastIndex()}`);
      const snap: Snapshot = { metadata: { index, term: this.term(index), confState: copyConfState(confState) }, data };
      const oldSnapName = this.snap.metadata.index > 0 ? snapshotName(this.snap.metadata.index, this.snap.metadata.term) : undefined;
      await writeFileAtomic({ dir: this.config.dir, name: snapshotName(index, snap.metadata.term), bytes: encodeSnapshot(snap), fsync: this.config.fsync });
      this.snap = snap;
      this.stateDirty = true;
      await this.flush();
      if (oldSnapName !== undefined) await unlink(join(this.config.dir, oldSnapName));
      return snap;
    });
  }

  /** Syncs and closes the files. Idempotent; the storage is unusable afterwards. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.exclusive(() => this.flush()).catch((err: unknown) => {
        this.logger.error({ err }, 'raft storage: final sync failed');
      });
      this.closed = true;
      this.closeSegments();
    })();
    return this.closing;
  }

  // ---- internals ----

  private logDir(): string {
    return join(this.config.dir, logDirName(this.logGeneration));
  }

  private assertOpen(): void {
    invariant(!this.closed, 'raft storage is closed');
  }

  private assertWritable(op: string): void {
    this.assertOpen();
    invariant(this.closing === undefined, () => `${op} on a closing raft storage`);
    invariant(this.pending === 0, () => `${op} while an asynchronous storage operation is running`);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    this.pending++;
    const run = this.chain.then(fn).finally(() => { this.pending--; });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Durability barrier; callers hold `exclusive`. Order: log data, log directory, then the commit point. */
  private async flush(): Promise<void> {
    const fsync = this.config.fsync;
    for (const s of this.dirtySegments) if (fsync) await fdatasyncAsync(s.fd);
    this.dirtySegments.clear();
    if (this.logDirDirty) {
      if (fsync) await syncDirectory(this.logDir());
      this.logDirDirty = false;
    }
    if (this.stateDirty || (this.commitDirty && this.closing !== undefined)) {
      this.stateDirty = false;
      this.commitDirty = false;
      await writeFileAtomic({ dir: this.config.dir, name: STATE_FILE, bytes: encodeState(this.storeState()), fsync });
    }
    // Compacted segments go only now: before raft-state recorded the new compaction point, a crash
    // would have reopened a log that needed them. Leftovers from a crash here are removed on open.
    for (const s of this.compactedSegments.splice(0)) {
      closeSync(s.fd);
      await unlink(s.path);
    }
  }

  private storeState(): StoreState {
    return {
      hardState: this.hardState,
      confState: this.bootConfState,
      logStart: this.logStart,
      logGeneration: this.logGeneration,
      snapshot: { index: this.snap.metadata.index, term: this.snap.metadata.term },
    };
  }

  private locate(i: number): { segment: Segment; k: number } {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.firstIndex <= i) lo = mid;
      else hi = mid - 1;
    }
    const segment = this.segments[lo];
    invariant(segment !== undefined && i >= segment.firstIndex && i <= segmentLastIndex(segment), () => `index ${i} not in any segment`);
    return { segment, k: i - segment.firstIndex };
  }

  private readEntry(i: number): Entry {
    const { segment, k } = this.locate(i);
    const pos = segment.positions[k]!;
    const end = segment.positions[k + 1] ?? segment.bytes;
    const buf = Buffer.allocUnsafe(end - pos);
    const n = readSync(segment.fd, buf, 0, buf.length, pos);
    const rec = decodeRecord(buf.subarray(0, n), 0, this.config.recordBytesMax);
    if (!rec.ok || rec.entry.index !== i) {
      throw new StorageCorruptionError(`unreadable record for index ${i}: ${rec.ok ? 'index mismatch' : rec.reason}`, segment.path, pos);
    }
    return rec.entry;
  }

  /** Removes entries with index >= `index` from the log (a conflicting tail). */
  private truncateFrom(index: number): void {
    let removedSegments = false;
    // Newest first, so that a crash half way leaves a log that is a prefix of the old one.
    while (this.segments.length > 0 && this.segments[this.segments.length - 1]!.firstIndex >= index) {
      const s = this.segments.pop()!;
      this.dirtySegments.delete(s);
      closeSync(s.fd);
      unlinkSync(s.path);
      removedSegments = true;
    }
    const tail = this.segments[this.segments.length - 1];
    if (tail !== undefined && segmentLastIndex(tail) >= index) {
      const k = index - tail.firstIndex;
      const pos = tail.positions[k]!;
      ftruncateSync(tail.fd, pos);
      tail.bytes = pos;
      tail.positions.length = k;
      tail.terms.length = k;
      this.dirtySegments.add(tail);
    }
    // The unlinks must be durable before new entries with the same indexes are: otherwise a crash
    // could resurrect a stale segment after fresh data. Conflicts are rare, so block here for it.
    if (removedSegments && this.config.fsync) fsyncPath(this.logDir());
    this.cache.truncateFrom(index);
    this.logger.info({ index }, 'raft log truncated (conflicting tail)');
  }

  private writeEntries(entries: readonly Entry[]): void {
    let segment = this.segments[this.segments.length - 1];
    let k = 0;
    while (k < entries.length) {
      if (segment === undefined || segment.bytes >= this.config.segmentBytes) segment = this.createSegment(entries[k]!.index);
      // Fill this segment up to segmentBytes (at least one record) with a single write.
      let bytes = 0;
      let n = 0;
      while (k + n < entries.length && (n === 0 || segment.bytes + bytes < this.config.segmentBytes)) {
        const size = recordBytes(entries[k + n]!);
        invariant(size <= this.config.recordBytesMax, () => `entry ${entries[k + n]!.index} is ${size} bytes, over recordBytesMax ${this.config.recordBytesMax}`);
        bytes += size;
        n++;
      }
      const buf = Buffer.allocUnsafe(bytes);
      let off = 0;
      for (let j = 0; j < n; j++) {
        const e = entries[k + j]!;
        segment.positions.push(segment.bytes + off);
        segment.terms.push(e.term);
        off += encodeRecordInto(buf, off, e);
      }
      let written = 0;
      while (written < buf.length) written += writeSync(segment.fd, buf, written, buf.length - written, segment.bytes + written);
      segment.bytes += buf.length;
      this.dirtySegments.add(segment);
      k += n;
    }
  }

  private createSegment(firstIndex: number): Segment {
    const tail = this.segments[this.segments.length - 1];
    const expected = tail === undefined ? this.logStart.index + 1 : segmentLastIndex(tail) + 1;
    invariant(firstIndex === expected, () => `new segment at ${firstIndex}, expected ${expected}`);
    const path = join(this.logDir(), segmentName(firstIndex));
    const segment: Segment = { firstIndex, path, fd: openSync(path, 'w+'), bytes: 0, positions: [], terms: [] };
    this.segments.push(segment);
    this.logDirDirty = true;
    return segment;
  }

  private closeSegments(): void {
    for (const s of [...this.segments, ...this.compactedSegments.splice(0)]) closeSync(s.fd);
    this.segments = [];
  }
}

function fsyncPath(path: PathLike): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Scans the segments of one log generation. The tail segment is cut at its first bad record (a torn
 * write: nothing after it was ever acknowledged as durable); any other damage is corruption.
 */
function recoverSegments(args: {
  dir: string;
  logStart: { index: number; term: number };
  config: FileRaftStorageConfig;
  logger: Logger;
}): Segment[] {
  const { dir, logStart, config, logger } = args;
  const names = readdirSync(dir).filter((n) => SEGMENT_NAME.test(n)).sort();
  const segments: Segment[] = [];
  let dirChanged = false;
  names.forEach((name, n) => {
    const path = join(dir, name);
    const isTail = n === names.length - 1;
    const firstIndex = Number(SEGMENT_NAME.exec(name)![1]);
    const buf = readFileSync(path);
    const positions: number[] = [];
    const terms: number[] = [];
    let off = 0;
    while (off < buf.length) {
      const rec = decodeRecord(buf, off, config.recordBytesMax);
      if (!rec.ok) {
        if (!isTail) throw new StorageCorruptionError(`${rec.reason} in a sealed segment`, path, off);
        logger.warn({ path, offset: off, bytesDropped: buf.length - off, reason: rec.reason }, 'truncating torn raft log tail');
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, off);
          if (config.fsync) fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        break;
      }
      const expected = firstIndex + positions.length;
      if (rec.entry.index !== expected) throw new StorageCorruptionError(`record for index ${rec.entry.index} where ${expected} belongs`, path, off);
      positions.push(off);
      terms.push(rec.entry.term);
      off += rec.bytes;
    }
    if (positions.length === 0) {
      if (!isTail) throw new StorageCorruptionError('empty sealed segment', path, 0);
      unlinkSync(path); // created (or torn) before its first record became durable
      dirChanged = true;
      return;
    }
    const prev = segments[segments.length - 1];
    if (prev !== undefined && segmentLastIndex(prev) + 1 !== firstIndex) {
      throw new StorageCorruptionError(`gap: previous segment ends at ${segmentLastIndex(prev)}`, path, 0);
    }
    segments.push({ firstIndex, path, fd: -1, bytes: off, positions, terms });
  });
  // Segments wholly at or below the compaction point are leftovers of a compaction that crashed
  // before deleting them.
  while (segments[0] !== undefined && segmentLastIndex(segments[0]) <= logStart.index) {
    unlinkSync(segments.shift()!.path);
    dirChanged = true;
  }
  const first = segments[0];
  if (first !== undefined && first.firstIndex > logStart.index + 1) {
    throw new StorageCorruptionError(`log starts at ${first.firstIndex}, after the compaction point ${logStart.index}`, first.path, 0);
  }
  if (dirChanged && config.fsync) fsyncPath(dir);
  return segments.map((s) => ({ ...s, fd: openSync(s.path, 'r+') }));
}
