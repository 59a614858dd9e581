// Typed failures of RaftDriver.propose. Whether the entry may still commit matters to the caller:
// `outcomeUnknown` says it may (retrying could then apply it twice unless the command is idempotent).
export type RaftProposalFailure =
  | 'leadership-lost'  // this node stopped leading before the entry committed; it may still commit
  | 'overwritten'      // a different entry committed at the proposal's index: it never will
  | 'timeout'          // not committed within proposalTimeoutMs; it may still commit
  | 'pending-limit'    // pendingProposalsMax proposals are already waiting
  | 'closed';          // the driver closed (or failed) first; it may still commit elsewhere

const OUTCOME_UNKNOWN: ReadonlySet<RaftProposalFailure> = new Set(['leadership-lost', 'timeout', 'closed']);

export class RaftProposalError extends Error {
  override readonly name = 'RaftProposalError';
  readonly code = 'RAFT_PROPOSAL_FAILED';
  readonly retriable: boolean;
  readonly outcomeUnknown: boolean;
  constructor(
    readonly reason: RaftProposalFailure,
    readonly index: number,
    options?: { cause?: unknown },
  ) {
    super(`raft proposal ${index > 0 ? `at index ${index} ` : ''}failed: ${reason}`, options);
    this.retriable = reason !== 'closed';
    this.outcomeUnknown = OUTCOME_UNKNOWN.has(reason);
  }
}

/** The driver closed (or failed) before a snapshot request ran. */
export class RaftDriverClosedError extends Error {
  override readonly name = 'RaftDriverClosedError';
  readonly code = 'RAFT_DRIVER_CLOSED';
  readonly retriable = false;
  constructor(options?: { cause?: unknown }) {
    super('raft driver is closed', options);
  }
}
