// The voter's WatchMetadata streams: each gets the committed log from the offset it asks for — a snapshot
// of the image first when that offset has left the bounded in-memory tail of committed batches
// (watchTailEntries), then every batch as it commits, and a 'progress' mark once it has everything this
// voter knows to be committed. A stream that cannot keep up is dropped; at most watchersMax are served.
// QuorumController owns the image and tells this module what was applied.
import { tributary } from '@tributary/protocol';
import type { Logger } from 'pino';

import pb = tributary.internal.v1;

/** A WatchMetadata stream: `send` returns false when the stream cannot keep up (it is then dropped). */
export interface MetadataWatcher {
  send(event: pb.IMetadataEvent): boolean;
  /** Ends the stream (the voter stopped or the watcher fell too far behind). */
  end(reason: string): void;
}

/** What the watchers need of the voter. */
export interface WatchedVoter {
  /** Offset of the last entry applied to the image. */
  appliedOffset(): number;
  /** The image as a MetadataSnapshot at appliedOffset(). */
  snapshot(): Uint8Array;
  /** The leader hint sent with every event. */
  hint(): pb.IControllerHint;
  /** The image holds everything committed so far (a watcher may be told it caught up). */
  upToDate(): boolean;
}

interface TailEntry {
  readonly offset: number;
  readonly term: number;
  readonly batch: Uint8Array;
}

interface WatchState {
  readonly watcher: MetadataWatcher;
  /** The next offset this watcher needs. */
  nextOffset: number;
}

export class MetadataWatchers {
  /** Committed batches (offset ascending) covering (tailBase, appliedOffset]. */
  private tail: TailEntry[] = [];
  private tailBase = 0;
  private readonly watchers = new Set<WatchState>();

  constructor(
    private readonly voter: WatchedVoter,
    private readonly limits: { readonly watchTailEntries: number; readonly watchersMax: number },
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.watchers.size;
  }

  /**
   * Streams the committed log from `fromOffset` to `watcher`: a snapshot first when that offset is
   * no longer in the in-memory tail, then every batch as it commits. Returns the unsubscribe.
   */
  watch(fromOffset: number, watcher: MetadataWatcher): () => void {
    if (this.watchers.size >= this.limits.watchersMax) {
      watcher.end(`too many watchers (${this.limits.watchersMax})`);
      return () => {};
    }
    const state: WatchState = { watcher, nextOffset: Math.max(1, fromOffset) };
    this.watchers.add(state);
    if (state.nextOffset <= this.tailBase && this.voter.appliedOffset() > 0) this.sendSnapshot(state);
    this.catchUp(state);
    return () => this.watchers.delete(state);
  }

  /** A committed metadata batch was applied to the image. */
  committed(offset: number, term: number, batch: Uint8Array): void {
    this.tail.push({ offset, term, batch });
    if (this.tail.length > this.limits.watchTailEntries) this.tailBase = this.tail.shift()!.offset;
  }

  /** The image was replaced by a snapshot at `offset`: the tail starts over there. */
  restored(offset: number): void {
    this.tail = [];
    this.tailBase = offset;
  }

  /** Sends every watcher what it lacks. */
  catchUpAll(): void {
    for (const state of [...this.watchers]) this.catchUp(state);
  }

  /** Tells every watcher the new leader hint (with what it lacks, when the image is up to date). */
  announce(hint: pb.IControllerHint): void {
    for (const state of [...this.watchers]) {
      if (this.voter.upToDate()) this.catchUp(state);
      else if (!state.watcher.send({ controller: hint, committedOffset: this.voter.appliedOffset() })) this.drop(state, 'watcher cannot keep up');
    }
  }

  /** Ends every stream. */
  endAll(reason: string): void {
    for (const state of [...this.watchers]) this.drop(state, reason);
  }

  private sendSnapshot(state: WatchState): void {
    const appliedOffset = this.voter.appliedOffset();
    const ok = state.watcher.send({
      controller: this.voter.hint(), committedOffset: appliedOffset, snapshot: pb.MetadataSnapshot.decode(this.voter.snapshot()),
    });
    state.nextOffset = appliedOffset + 1;
    if (!ok) this.drop(state, 'watcher cannot keep up');
  }

  /** Sends `state` every tail entry it lacks, then the committed offset. */
  private catchUp(state: WatchState): void {
    if (!this.watchers.has(state)) return;
    const appliedOffset = this.voter.appliedOffset();
    if (state.nextOffset <= this.tailBase && state.nextOffset <= appliedOffset) {
      this.sendSnapshot(state);
      if (!this.watchers.has(state)) return;
    }
    const hint = this.voter.hint();
    let ok = true;
    for (let i = this.firstTailIndex(state.nextOffset); i < this.tail.length && ok; i++) {
      const e = this.tail[i]!;
      ok = state.watcher.send({
        controller: hint, committedOffset: appliedOffset,
        entry: { offset: e.offset, term: e.term, batch: pb.MetadataBatch.decode(e.batch) },
      });
      state.nextOffset = e.offset + 1;
    }
    if (ok && this.voter.upToDate()) {
      state.nextOffset = Math.max(state.nextOffset, appliedOffset + 1);
      ok = state.watcher.send({ controller: hint, committedOffset: appliedOffset, progress: true });
    }
    if (!ok) this.drop(state, 'watcher cannot keep up');
  }

  private firstTailIndex(offset: number): number {
    let lo = 0;
    let hi = this.tail.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tail[mid]!.offset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private drop(state: WatchState, reason: string): void {
    if (!this.watchers.delete(state)) return;
    this.logger.info({ reason }, 'metadata watcher dropped');
    state.watcher.end(reason);
  }
}
