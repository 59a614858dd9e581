// The configuration of one raft node: a readonly, validated value. `parseRaftConfig` is the only way
// to build one; it names every bad field and every broken cross-field rule at once.
import { RaftConfigError, type RaftConfigIssue } from './errors.js';
import type { Logger, NodeId, Random } from './types.js';

/** Ticks between elections; a follower campaigns after a random timeout in [electionTicks, 2*electionTicks). */
export const DEFAULT_ELECTION_TICKS = 10;
/** Ticks between leader heartbeats. */
export const DEFAULT_HEARTBEAT_TICKS = 1;
/** Upper bound on the entry payload bytes in one append message (at least one entry is always sent). */
export const DEFAULT_MAX_SIZE_PER_MSG_BYTES = 1024 * 1024;
/** Append messages in flight per follower in the replicate state. */
export const DEFAULT_MAX_INFLIGHT_MSGS = 256;
/** Entry payload bytes in flight per follower (0 = no byte limit beyond the message count). */
export const DEFAULT_MAX_INFLIGHT_BYTES = 32 * 1024 * 1024;
/** Payload bytes a leader accepts into its log ahead of the commit index before dropping proposals. */
export const DEFAULT_MAX_UNCOMMITTED_ENTRIES_BYTES = 64 * 1024 * 1024;
/** Payload bytes of committed entries handed to the application in one Ready (at least one entry). */
export const DEFAULT_MAX_COMMITTED_BYTES_PER_READY = 64 * 1024 * 1024;
/** ReadIndex requests a leader keeps pending (awaiting a heartbeat quorum or its first commit). */
export const DEFAULT_MAX_PENDING_READ_INDEX_REQUESTS = 4096;

export interface RaftConfig {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  /** 0 disables the byte limit (the message-count limit still applies). */
  readonly maxInflightBytes: number;
  readonly maxUncommittedEntriesBytes: number;
  readonly maxCommittedBytesPerReady: number;
  readonly maxPendingReadIndexRequests: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly random: Random;
  readonly logger: Logger;
  /** The last index the application has applied (on restart); 0 = the storage's snapshot index. */
  readonly applied: number;
}

/** What callers write: `id` and `random` are required, everything else has a default. */
export type RaftConfigInput = Partial<Omit<RaftConfig, 'id' | 'random'>> & {
  readonly id: NodeId;
  readonly random: Random;
};

const NOOP_LOGGER: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Applies defaults and validates; throws RaftConfigError listing every problem. */
export function parseRaftConfig(input: RaftConfigInput): RaftConfig {
  const config: RaftConfig = {
    id: input.id,
    electionTicks: input.electionTicks ?? DEFAULT_ELECTION_TICKS,
    heartbeatTicks: input.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS,
    maxSizePerMsgBytes: input.maxSizePerMsgBytes ?? DEFAULT_MAX_SIZE_PER_MSG_BYTES,
    maxInflightMsgs: input.maxInflightMsgs ?? DEFAULT_MAX_INFLIGHT_MSGS,
    maxInflightBytes: input.maxInflightBytes ?? DEFAULT_MAX_INFLIGHT_BYTES,
    maxUncommittedEntriesBytes: input.maxUncommittedEntriesBytes ?? DEFAULT_MAX_UNCOMMITTED_ENTRIES_BYTES,
    maxCommittedBytesPerReady: input.maxCommittedBytesPerReady ?? DEFAULT_MAX_COMMITTED_BYTES_PER_READY,
    maxPendingReadIndexRequests: input.maxPendingReadIndexRequests ?? DEFAULT_MAX_PENDING_READ_INDEX_REQUESTS,
    preVote: input.preVote ?? true,
    checkQuorum: input.checkQuorum ?? true,
    random: input.random,
    logger: input.logger ?? NOOP_LOGGER,
    applied: input.applied ?? 0,
  };
  validateRaftConfig(config);
  return Object.freeze(config);
}

/** Throws RaftConfigError unless every field and cross-field rule holds. */
export function validateRaftConfig(c: RaftConfig): void {
  const issues: RaftConfigIssue[] = [];
  const bad = (field: string, reason: string): void => {
    issues.push({ field, reason });
  };
  if (!isPositiveInt(c.id)) bad('id', `must be a positive safe integer (0 means "none"), got ${String(c.id)}`);
  if (!isPositiveInt(c.heartbeatTicks)) bad('heartbeatTicks', `must be a positive integer, got ${String(c.heartbeatTicks)}`);
  if (!isPositiveInt(c.electionTicks)) {
    bad('electionTicks', `must be a positive integer, got ${String(c.electionTicks)}`);
  } else if (isPositiveInt(c.heartbeatTicks) && c.electionTicks <= c.heartbeatTicks) {
    // A follower must hear several heartbeats per election timeout, or it campaigns against a healthy leader.
    bad('electionTicks', `must be greater than heartbeatTicks (${c.heartbeatTicks}), got ${c.electionTicks}`);
  }
  if (!isPositiveInt(c.maxSizePerMsgBytes)) bad('maxSizePerMsgBytes', `must be a positive integer, got ${String(c.maxSizePerMsgBytes)}`);
  if (!isPositiveInt(c.maxInflightMsgs)) bad('maxInflightMsgs', `must be a positive integer, got ${String(c.maxInflightMsgs)}`);
  if (!isNonNegativeInt(c.maxInflightBytes)) {
    bad('maxInflightBytes', `must be a non-negative integer (0 = unlimited), got ${String(c.maxInflightBytes)}`);
  } else if (c.maxInflightBytes > 0 && isPositiveInt(c.maxSizePerMsgBytes) && c.maxInflightBytes < c.maxSizePerMsgBytes) {
    // Otherwise a single full-size message could never be in flight.
    bad('maxInflightBytes', `must be 0 or at least maxSizePerMsgBytes (${c.maxSizePerMsgBytes}), got ${c.maxInflightBytes}`);
  }
  if (!isPositiveInt(c.maxUncommittedEntriesBytes)) {
    bad('maxUncommittedEntriesBytes', `must be a positive integer, got ${String(c.maxUncommittedEntriesBytes)}`);
  }
  if (!isPositiveInt(c.maxCommittedBytesPerReady)) {
    bad('maxCommittedBytesPerReady', `must be a positive integer, got ${String(c.maxCommittedBytesPerReady)}`);
  }
  if (!isPositiveInt(c.maxPendingReadIndexRequests)) {
    bad('maxPendingReadIndexRequests', `must be a positive integer, got ${String(c.maxPendingReadIndexRequests)}`);
  }
  if (typeof c.preVote !== 'boolean') bad('preVote', 'must be a boolean');
  if (typeof c.checkQuorum !== 'boolean') bad('checkQuorum', 'must be a boolean');
  if (c.random === null || typeof c.random !== 'object' || typeof c.random.intn !== 'function') {
    bad('random', 'must be an object with intn(n) (inject a seeded source; nraft never uses Math.random)');
  }
  if (c.logger === null || typeof c.logger !== 'object' || typeof c.logger.info !== 'function') {
    bad('logger', 'must implement debug/info/warn/error');
  }
  if (!isNonNegativeInt(c.applied)) bad('applied', `must be a non-negative integer, got ${String(c.applied)}`);
  if (issues.length > 0) throw new RaftConfigError(issues);
}
