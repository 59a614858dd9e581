// The raft log as the state machine sees it: stable storage below, the unstable tail above, and the
// commit/applied cursors. Invariant: applied <= committed <= lastIndex, and both only move forward
// (a snapshot restore moves committed forward to the snapshot index).
import { limitEntriesBytes } from './entry-size.js';
import { invariant } from './errors.js';
import { Unstable } from './unstable.js';
import { CompactedError, UnavailableError, type Entry, type RaftStorage, type Snapshot } from './types.js';

export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known committed on a quorum. */
  committed: number;
  /** Highest index the application has applied (reported through advance()). */
  applied: number;

  constructor(
    readonly storage: RaftStorage,
    private readonly maxCommittedBytesPerReady: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    // Everything up to the snapshot is committed and (restored by the driver) applied, even when
    // the storage kept entries at or below the snapshot index (compacted short of it).
    const floor = Math.max(first - 1, storage.snapshot().metadata.index);
    this.committed = floor;
    this.applied = floor;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /**
   * The last index that is durable in storage (unstable entries excluded). A leader counts itself
   * towards a quorum only up to here, so a commit never depends on the leader's unsynced disk.
   */
  persistedLastIndex(): number {
    // Storage agrees with the log below unstable.offset; above it storage may still hold a stale tail.
    return Math.min(this.storage.lastIndex(), this.unstable.offset - 1);
  }

  /** Term of entry i; throws CompactedError / UnavailableError outside [firstIndex-1, lastIndex]. */
  term(i: number): number {
    const dummy = this.firstIndex() - 1;
    if (i < dummy) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    return this.unstable.maybeTerm(i) ?? this.storage.term(i);
  }

  /** Term of entry i, or 0 when it is compacted or beyond the end. */
  termOrZero(i: number): number {
    try {
      return this.term(i);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return 0;
      throw e;
    }
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  matchTerm(i: number, t: number): boolean {
    try {
      return this.term(i) === t;
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return false;
      throw e;
    }
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, term) at least as up to date as ours? */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * A follower's handling of an append: if our entry at `index` has `logTerm`, append `ents`
   * (truncating a conflicting tail) and advance commit to min(committed, last new index).
   * Returns the last new index, or undefined when the log does not match at `index`.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNewIndex = index + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      invariant(conflict > this.committed, () => `entry ${conflict} conflicts with committed entry (committed ${this.committed})`);
      this.append(ents.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNewIndex));
    return lastNewIndex;
  }

  /** Index of the first entry in `ents` that is new or differs in term from ours; 0 if none. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term` (or the compaction point): where a leader
   * whose log has `term` at `index` can next probe. Used in both directions of fast backtracking.
   */
  findConflictByTerm(index: number, term: number): number {
    const floor = this.firstIndex() - 1;
    let i = Math.min(index, this.lastIndex());
    while (i > floor) {
      const t = this.termOrZero(i);
      if (t <= term) return i;
      i--;
    }
    return Math.max(i, floor);
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    invariant(after >= this.committed, () => `append at ${after + 1} would overwrite committed ${this.committed}`);
    invariant(after <= this.lastIndex(), () => `append at ${after + 1} leaves a gap after lastIndex ${this.lastIndex()}`);
    for (let k = 1; k < ents.length; k++) {
      invariant(ents[k]!.index === ents[k - 1]!.index + 1, 'append: entries are not contiguous');
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** Entries in [lo, hi) from storage and the unstable tail, at most maxBytes (but at least one). */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo);
    invariant(hi <= this.lastIndex() + 1, () => `slice[${lo},${hi}) beyond lastIndex ${this.lastIndex()}`);
    let out: Entry[] = [];
    const uOffset = this.unstable.offset;
    if (lo < uOffset) {
      const stored = this.storage.entries(lo, Math.min(hi, uOffset), maxBytes);
      const wanted = Math.min(hi, uOffset) - lo;
      if (stored.length < wanted) return stored; // the byte limit cut it short
      out = stored;
    }
    if (hi > uOffset) {
      out = out.concat(this.unstable.slice(Math.max(lo, uOffset), hi));
    }
    return limitEntriesBytes(out, maxBytes);
  }

  /** Entries from i to the end, at most maxBytes. */
  entriesFrom(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  unstableEntries(): Entry[] {
    return [...this.unstable.entries];
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1) && this.unstable.snapshot === undefined;
  }

  /** Committed entries the application has not applied yet (bounded by maxCommittedBytesPerReady). */
  nextCommittedEntries(): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return this.slice(lo, this.committed + 1, this.maxCommittedBytesPerReady);
  }

  commitTo(toCommit: number): void {
    if (toCommit <= this.committed) return; // commit never moves backwards; stale hints are ignored
    invariant(toCommit <= this.lastIndex(), () => `commit ${toCommit} beyond lastIndex ${this.lastIndex()} (log lost or corrupt?)`);
    this.committed = toCommit;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    invariant(i <= this.committed && i >= this.applied, () => `applied ${i} outside [applied ${this.applied}, committed ${this.committed}]`);
    this.applied = i;
  }

  /**
   * Advances commit to maxIndex only if that entry is from `term` (the leader's current term):
   * Raft §5.4.2 / Figure 8, older-term entries are committed indirectly, never by counting.
   */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(snap: Snapshot): void {
    invariant(snap.metadata.index > this.committed, () => `restore snapshot ${snap.metadata.index} <= committed ${this.committed}`);
    this.committed = snap.metadata.index;
    this.unstable.restore(snap);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }
}
