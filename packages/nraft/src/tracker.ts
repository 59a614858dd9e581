// Membership as the state machine currently applies it, and the leader's per-member Progress.
// Voters decide elections and commits; learners only receive the log.
import { Progress } from './progress.js';
import type { ConfState, NodeId } from './types.js';

export class ProgressTracker {
  readonly voters = new Set<NodeId>();
  readonly learners = new Set<NodeId>();
  /** One Progress per voter and learner (meaningful on the leader only). */
  readonly progress = new Map<NodeId, Progress>();

  constructor(
    private readonly maxInflightMsgs: number,
    private readonly maxInflightBytes: number,
  ) {}

  confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  /** Replaces membership (on start and on snapshot restore); progress is rebuilt by the next reset. */
  restore(cs: ConfState, next: number): void {
    this.voters.clear();
    this.learners.clear();
    this.progress.clear();
    for (const id of cs.voters) this.voters.add(id);
    for (const id of cs.learners) if (!this.voters.has(id)) this.learners.add(id);
    for (const id of this.members()) this.progress.set(id, this.newProgress(id, next, 0));
  }

  /** Voters and learners in ascending id order (deterministic iteration for message order). */
  members(): NodeId[] {
    return [...this.voters, ...this.learners].sort((a, b) => a - b);
  }

  newProgress(id: NodeId, next: number, match: number): Progress {
    return new Progress({
      next,
      match,
      maxInflightMsgs: this.maxInflightMsgs,
      maxInflightBytes: this.maxInflightBytes,
      isLearner: this.learners.has(id),
    });
  }

  resetProgress(next: number, matchOf: (id: NodeId) => number): void {
    this.progress.clear();
    for (const id of this.members()) this.progress.set(id, this.newProgress(id, next, matchOf(id)));
  }
}
