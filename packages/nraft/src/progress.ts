// What a leader knows about one follower's log (etcd-raft's Progress) and the state machine that
// decides how to feed it:
//   probe     — we do not know where the logs match; send one append per heartbeat round and wait.
//   replicate — the logs match up to `match`; stream appends optimistically, bounded by Inflights.
//   snapshot  — the entries it needs are compacted; a snapshot is on its way, send nothing else.
import { invariant } from './errors.js';
import { Inflights } from './inflights.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to be replicated (and persisted) on this node. */
  match = 0;
  /** Next index to send. Invariant: match < next. */
  next: number;
  state: ProgressState = 'probe';
  /** Index of the snapshot in flight (snapshot state only). */
  pendingSnapshot = 0;
  /** Heard from within the current CheckQuorum window (or it is new / the leader itself). */
  recentActive = false;
  /** Probe state: one append was sent; wait for a response or heartbeat response before the next. */
  probeSent = false;
  readonly inflights: Inflights;

  constructor(options: { next: number; match?: number; maxInflightMsgs: number; maxInflightBytes: number; isLearner: boolean }) {
    this.next = options.next;
    this.match = options.match ?? 0;
    this.isLearner = options.isLearner;
    this.inflights = new Inflights(options.maxInflightMsgs, options.maxInflightBytes);
    this.assertInvariant();
  }

  isLearner: boolean;

  private transition(to: ProgressState): void {
    this.state = to;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot's entries.
    const next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.transition('probe');
    this.next = next;
  }

  becomeReplicate(): void {
    this.transition('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.transition('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement up to n arrived. Returns false when it tells us nothing new (stale or duplicate). */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** An append carrying entries up to lastIndex (and `bytes` payload) was just sent. */
  sentEntries(lastIndex: number, entryCount: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    } else {
      invariant(false, 'sent entries to a follower in snapshot state');
    }
  }

  /**
   * The follower rejected an append at index `rejected`; `matchHint` is where the logs may match.
   * Returns false if the rejection is stale (answers a message we no longer care about).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // Everything up to match is known good; a rejection at or below it is out of date.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probe (and snapshot): only the rejection of the last probe counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  assertInvariant(): void {
    invariant(this.match < this.next, () => `progress: match ${this.match} >= next ${this.next}`);
  }
}
