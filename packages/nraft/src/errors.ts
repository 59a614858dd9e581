// Typed errors of the nraft package. Expected failures (a proposal that cannot be accepted, a bad
// config) are ordinary classes with a machine-readable `code`; impossible states go through
// `invariant`, which throws node:assert's AssertionError so a broken node crashes loudly instead of
// corrupting a replicated log.
import { AssertionError } from 'node:assert';

/** One rejected config field, with the rule it broke. */
export interface RaftConfigIssue {
  readonly field: string;
  readonly reason: string;
}

/** The config handed to nraft is invalid; every bad field (and broken cross-field rule) is listed. */
export class RaftConfigError extends Error {
  readonly code = 'INVALID_RAFT_CONFIG';
  readonly retriable = false;
  constructor(readonly issues: readonly RaftConfigIssue[]) {
    super(`invalid raft config: ${issues.map((i) => `${i.field}: ${i.reason}`).join('; ')}`);
    this.name = 'RaftConfigError';
  }
}

export type ProposalDropReason =
  | 'not-leader'            // only the leader accepts proposals (nraft does not forward them)
  | 'no-leader'             // a forwarded request (read-index, transfer) has nowhere to go
  | 'transfer-in-progress'  // the leader is handing over; the new leader will accept it
  | 'uncommitted-limit'     // maxUncommittedEntriesBytes would be exceeded
  | 'conf-change-pending'   // a previous conf change is not applied yet (one at a time)
  | 'not-member'            // this node was removed from (or never in) the configuration
  | 'read-index-limit';     // maxPendingReadIndexRequests would be exceeded

/** A proposal (or read/transfer request) was not accepted. Retriable: try again on the leader, later. */
export class ProposalDroppedError extends Error {
  readonly code = 'PROPOSAL_DROPPED';
  readonly retriable = true;
  constructor(
    readonly reason: ProposalDropReason,
    detail?: string,
  ) {
    super(`raft proposal dropped: ${reason}${detail === undefined ? '' : ` (${detail})`}`);
    this.name = 'ProposalDroppedError';
  }
}

/** Bytes that should hold an encoded ConfChange do not. */
export class ConfChangeDecodeError extends Error {
  readonly code = 'INVALID_CONF_CHANGE';
  readonly retriable = false;
  constructor(reason: string) {
    super(`cannot decode conf change: ${reason}`);
    this.name = 'ConfChangeDecodeError';
  }
}

/** Throws an AssertionError when an invariant does not hold. `message` is built lazily when it is a function. */
export function invariant(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError({ message: `nraft invariant violated: ${typeof message === 'function' ? message() : message}` });
  }
}
