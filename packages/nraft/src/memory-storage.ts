// An in-memory RaftStorage: the reference implementation of the storage contract, used by tests, the
// simulator and anything that does not need durability. Raft only reads it; the driver writes it while
// handling a Ready (append entries, set the hard state, apply a snapshot) and when the application
// compacts its log (createSnapshot + compact).
import { invariant } from './errors.js';
import { limitEntriesBytes } from './entry-size.js';
import {
  CompactedError,
  EMPTY_HARD_STATE,
  UnavailableError,
  type ConfState,
  type Entry,
  type HardState,
  type RaftStorage,
  type Snapshot,
} from './types.js';

/** A snapshot older than (or as old as) the one the storage already holds. */
export class SnapshotOutOfDateError extends Error {
  readonly code = 'SNAPSHOT_OUT_OF_DATE';
  readonly retriable = false;
  constructor(
    readonly requestedIndex: number,
    readonly currentIndex: number,
  ) {
    super(`snapshot at index ${requestedIndex} is not newer than the stored one at ${currentIndex}`);
    this.name = 'SnapshotOutOfDateError';
  }
}

export interface MemoryStorageOptions {
  /** The membership a brand-new node boots with (recorded as the empty snapshot's conf state). */
  readonly confState?: ConfState;
}

const EMPTY_DATA = new Uint8Array(0);

export class MemoryStorage implements RaftStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot;
  /**
   * ents[0] is a dummy entry standing for the snapshot point (index and term of the last compacted
   * entry), so term(firstIndex - 1) works and the array is never empty.
   */
  private ents: Entry[];

  constructor(options: MemoryStorageOptions = {}) {
    const confState = options.confState ?? { voters: [], learners: [] };
    this.snap = { metadata: { index: 0, term: 0, confState: copyConfState(confState) }, data: EMPTY_DATA };
    this.ents = [{ index: 0, term: 0, type: 'normal', data: EMPTY_DATA }];
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    invariant(lo <= hi, () => `entries: lo ${lo} > hi ${hi}`);
    const offset = this.offset();
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    return limitEntriesBytes(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new CompactedError(i);
    const e = this.ents[i - offset];
    if (e === undefined) throw new UnavailableError(i);
    return e.term;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  hardStateNow(): HardState {
    return this.hardState;
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  /** Replaces the whole log with a snapshot (a follower installing the leader's snapshot). */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index) {
      throw new SnapshotOutOfDateError(snap.metadata.index, this.snap.metadata.index);
    }
    this.snap = snap;
    this.ents = [{ index: snap.metadata.index, term: snap.metadata.term, type: 'normal', data: EMPTY_DATA }];
  }

  /**
   * Records the application's snapshot at `index` (which must be applied by the caller) without
   * discarding entries; call compact() afterwards to drop them.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(index, this.snap.metadata.index);
    invariant(index <= this.lastIndex(), () => `createSnapshot: index ${index} > lastIndex ${this.lastIndex()}`);
    this.snap = { metadata: { index, term: this.term(index), confState: copyConfState(confState) }, data };
    return this.snap;
  }

  /** Discards entries up to and including `compactIndex` (they must be covered by a snapshot). */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) throw new CompactedError(compactIndex);
    invariant(compactIndex <= this.lastIndex(), () => `compact: index ${compactIndex} > lastIndex ${this.lastIndex()}`);
    const keep = this.ents.slice(compactIndex - offset);
    const dummy = keep[0]!;
    keep[0] = { index: dummy.index, term: dummy.term, type: 'normal', data: EMPTY_DATA };
    this.ents = keep;
  }

  /**
   * Appends entries persisted from a Ready. Entries must be contiguous; the first may start anywhere
   * in [firstIndex, lastIndex + 1]: any existing tail from that index on is replaced (a follower
   * overwriting a conflicting suffix). Entries already compacted are skipped.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (let k = 1; k < entries.length; k++) {
      invariant(entries[k]!.index === entries[k - 1]!.index + 1, 'append: entries are not contiguous');
    }
    const first = this.firstIndex();
    const last = entries[entries.length - 1]!.index;
    if (last < first) return;
    const fresh = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const at = fresh[0]!.index - this.offset();
    invariant(at <= this.ents.length, () => `append: gap between lastIndex ${this.lastIndex()} and ${fresh[0]!.index}`);
    this.ents = this.ents.slice(0, at).concat(fresh);
  }

  private offset(): number {
    return this.ents[0]!.index;
  }
}

function copyConfState(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}
