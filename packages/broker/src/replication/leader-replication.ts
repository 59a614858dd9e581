// The leader's replication decisions for one partition, pure: follower fetch handling (epoch fencing,
// divergence, progress), the high watermark, and ISR shrink/expand proposals. No clock, no I/O: the
// shell passes `nowMs` and a read-only view of the leader's log, and performs what comes back
// (read the log, send AlterPartition, move the HW). See docs/replication.md for the reasoning.
import { assert } from '../errors.js';
import type { EpochEndOffset } from '../partition-log.js';
import type { PartitionInfo } from '../metadata-view.js';
import type { AlterPartitionResult } from './alter-partition-client.js';

/** A follower's LEO the leader has not learned yet in this epoch. */
export const UNKNOWN_OFFSET = -1;

export interface FollowerProgress {
  readonly replicaId: number;
  /** The follower's log end offset (its last fetch offset), UNKNOWN_OFFSET until it fetched in this epoch. */
  readonly logEndOffset: number;
  /** Last time the follower was known to have everything the leader had (Kafka's rule, see handleFollowerFetch). */
  readonly lastCaughtUpTimeMs: number;
  readonly lastFetchTimeMs: number;
  /** Leader LEO at the follower's previous fetch. */
  readonly lastFetchLeaderLogEndOffset: number;
  /** The follower's broker epoch at its last fetch; a change means it restarted (-1 = unknown). */
  readonly brokerEpoch: number;
}

/**
 * An ISR change sent to the controller whose outcome is not yet reflected in metadata.
 * - 'inflight': sent, no answer yet. Its outcome is unknown, so it counts for the HW.
 * - 'unknown': timed out or transport failed; it may have committed. Still counts for the HW and is
 *   re-sent (same request) at `retryAtMs`.
 * A definite refusal removes it (see applyAlterPartitionResult).
 */
export interface PendingIsrChange {
  readonly proposedIsr: readonly number[];
  readonly fromPartitionEpoch: number;
  readonly status: 'inflight' | 'unknown';
  readonly retryAtMs: number;
}

export interface LeaderState {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /** The leader's LEO when it became leader: the first offset of its epoch. */
  readonly leaderEpochStartOffset: number;
  readonly replicas: readonly number[];
  /** The committed ISR (from metadata or a successful AlterPartition). */
  readonly isr: readonly number[];
  readonly pendingIsr: PendingIsrChange | undefined;
  /** No new ISR proposal before this time (after a refusal). */
  readonly nextProposalAtMs: number;
  readonly followers: ReadonlyMap<number, FollowerProgress>;
}

/** What the leader's log can tell the pure logic. */
export interface LeaderLogView {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** Epoch of the last batch in the log; -1 when empty. */
  readonly latestEpoch: number;
  /** Kafka's semantics: latest epoch → LEO; older → start of the next larger epoch; unknown → undefined or (-1, -1). */
  endOffsetForEpoch(epoch: number): EpochEndOffset | undefined;
}

function sortedUnique(ids: Iterable<number>): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

function freshFollower(replicaId: number, nowMs: number, inIsr: boolean): FollowerProgress {
  // An ISR member gets a full lag window to show up; others have never been caught up.
  return { replicaId, logEndOffset: UNKNOWN_OFFSET, lastCaughtUpTimeMs: inIsr ? nowMs : 0, lastFetchTimeMs: 0, lastFetchLeaderLogEndOffset: UNKNOWN_OFFSET, brokerEpoch: -1 };
}

/** The state of a replica that just became leader of `info` (a new leader epoch). */
export function becomeLeader(args: { readonly leaderId: number; readonly info: PartitionInfo; readonly leaderLogEndOffset: number; readonly nowMs: number }): LeaderState {
  const { info, leaderId } = args;
  assert(info.leader === leaderId, `${info.topic}-${info.partition}: becomeLeader on ${leaderId} but the leader is ${info.leader}`);
  assert(info.isr.includes(leaderId) || info.isr.length === 0, `${info.topic}-${info.partition}: leader ${leaderId} is not in the ISR [${info.isr.join(',')}]`);
  const followers = new Map<number, FollowerProgress>();
  for (const id of info.replicas) if (id !== leaderId) followers.set(id, freshFollower(id, args.nowMs, info.isr.includes(id)));
  return {
    leaderId, leaderEpoch: info.leaderEpoch, partitionEpoch: info.partitionEpoch, leaderEpochStartOffset: args.leaderLogEndOffset,
    replicas: info.replicas, isr: sortedUnique(info.isr.length === 0 ? [leaderId] : info.isr), pendingIsr: undefined, nextProposalAtMs: 0, followers,
  };
}

/**
 * Newer metadata for the same leader epoch (an ISR change committed, replicas reassigned). A pending
 * change is settled once the metadata's partitionEpoch moved past the one it was computed from:
 * metadata then says what was committed.
 */
export function updateLeaderMetadata(state: LeaderState, info: PartitionInfo, nowMs: number): LeaderState {
  assert(info.leaderEpoch === state.leaderEpoch && info.leader === state.leaderId, `updateLeaderMetadata across a leader change (epoch ${state.leaderEpoch} -> ${info.leaderEpoch})`);
  if (info.partitionEpoch <= state.partitionEpoch) return state;
  const followers = new Map<number, FollowerProgress>();
  for (const id of info.replicas) {
    if (id === state.leaderId) continue;
    followers.set(id, state.followers.get(id) ?? freshFollower(id, nowMs, false));
  }
  const settled = state.pendingIsr !== undefined && info.partitionEpoch > state.pendingIsr.fromPartitionEpoch;
  return {
    ...state, partitionEpoch: info.partitionEpoch, replicas: info.replicas, isr: sortedUnique(info.isr), followers,
    pendingIsr: settled ? undefined : state.pendingIsr,
  };
}

/**
 * The ISR the high watermark waits for: the committed ISR plus the proposed one while its outcome is
 * unknown. A pending shrink keeps counting the replica being removed (the controller may not have
 * removed it; it could still be elected), a pending expansion already counts the replica being
 * added (the controller may have added it; then it could be elected).
 */
export function maximalIsr(state: LeaderState): readonly number[] {
  return state.pendingIsr === undefined ? state.isr : sortedUnique([...state.isr, ...state.pendingIsr.proposedIsr]);
}

export type FollowerFetchOutcome =
  | { readonly kind: 'error'; readonly code: 'FENCED_LEADER_EPOCH' | 'UNKNOWN_LEADER_EPOCH' | 'NOT_LEADER_OR_FOLLOWER' | 'OFFSET_OUT_OF_RANGE'; readonly message: string }
  /** The follower must truncate to (its own end of `epoch`, at most endOffset) before fetching on. */
  | { readonly kind: 'diverging'; readonly divergingEpoch: EpochEndOffset }
  /** Serve the log from fetchOffset. */
  | { readonly kind: 'read'; readonly fetchOffset: number };

export interface FollowerFetch {
  readonly replicaId: number;
  readonly brokerEpoch: number;
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
  readonly currentLeaderEpoch: number;
  readonly nowMs: number;
}

/**
 * One follower fetch. Order matters: epoch fencing, then divergence (the follower's offsets mean
 * nothing until its log matches ours up to fetchOffset), then range, then progress. Only a fetch that
 * passed the divergence check updates the follower's LEO: by the leader-epoch log-matching property
 * (one leader per epoch), a follower whose last epoch ends in our log at or after its fetch offset holds
 * exactly our records below fetchOffset.
 */
export function handleFollowerFetch(state: LeaderState, fetch: FollowerFetch, log: LeaderLogView): { state: LeaderState; outcome: FollowerFetchOutcome } {
  if (fetch.currentLeaderEpoch < state.leaderEpoch) {
    return { state, outcome: { kind: 'error', code: 'FENCED_LEADER_EPOCH', message: `leader epoch ${fetch.currentLeaderEpoch} is older than ${state.leaderEpoch}` } };
  }
  if (fetch.currentLeaderEpoch > state.leaderEpoch) {
    return { state, outcome: { kind: 'error', code: 'UNKNOWN_LEADER_EPOCH', message: `leader epoch ${fetch.currentLeaderEpoch} is newer than ${state.leaderEpoch}` } };
  }
  const previous = state.followers.get(fetch.replicaId);
  if (previous === undefined) {
    return { state, outcome: { kind: 'error', code: 'NOT_LEADER_OR_FOLLOWER', message: `node ${fetch.replicaId} is not a replica` } };
  }
  if (fetch.lastFetchedEpoch >= 0) {
    // A follower whose last epoch is newer than anything we hold (it fetched from a leader whose tail
    // was lost) diverges where our latest epoch ends: our whole log is older.
    const askEpoch = fetch.lastFetchedEpoch > log.latestEpoch && log.latestEpoch >= 0 ? log.latestEpoch : fetch.lastFetchedEpoch;
    const end = log.endOffsetForEpoch(askEpoch);
    const known = end !== undefined && end.epoch >= 0 ? end : undefined;
    if (known === undefined || known.epoch < fetch.lastFetchedEpoch || known.endOffset < fetch.fetchOffset) {
      return { state, outcome: { kind: 'diverging', divergingEpoch: known ?? { epoch: -1, endOffset: -1 } } };
    }
  }
  if (fetch.fetchOffset < log.logStartOffset || fetch.fetchOffset > log.logEndOffset) {
    return { state, outcome: { kind: 'error', code: 'OFFSET_OUT_OF_RANGE', message: `fetch offset ${fetch.fetchOffset} outside [${log.logStartOffset}, ${log.logEndOffset}]` } };
  }
  // A restarted follower (new broker epoch) starts over: its old progress says nothing about its disk.
  const base = previous.brokerEpoch !== fetch.brokerEpoch && previous.brokerEpoch !== -1
    ? { ...previous, lastCaughtUpTimeMs: previous.lastCaughtUpTimeMs, lastFetchLeaderLogEndOffset: UNKNOWN_OFFSET }
    : previous;
  // Kafka's caught-up rule: a follower that reached our LEO is caught up now; one that reached the LEO
  // we had at its previous fetch was caught up then.
  let lastCaughtUpTimeMs = base.lastCaughtUpTimeMs;
  if (fetch.fetchOffset >= log.logEndOffset) lastCaughtUpTimeMs = Math.max(lastCaughtUpTimeMs, fetch.nowMs);
  else if (base.lastFetchLeaderLogEndOffset !== UNKNOWN_OFFSET && fetch.fetchOffset >= base.lastFetchLeaderLogEndOffset) {
    lastCaughtUpTimeMs = Math.max(lastCaughtUpTimeMs, base.lastFetchTimeMs);
  }
  const progress: FollowerProgress = {
    replicaId: fetch.replicaId, logEndOffset: fetch.fetchOffset, lastCaughtUpTimeMs, lastFetchTimeMs: fetch.nowMs,
    lastFetchLeaderLogEndOffset: log.logEndOffset, brokerEpoch: fetch.brokerEpoch,
  };
  const followers = new Map(state.followers);
  followers.set(fetch.replicaId, progress);
  return { state: { ...state, followers }, outcome: { kind: 'read', fetchOffset: fetch.fetchOffset } };
}

/**
 * The high watermark: min LEO over the maximal ISR, clamped to [current, leader LEO]; it never moves
 * back. A member whose LEO is unknown (no fetch yet in this epoch) holds it where it is.
 *
 * No "current epoch only" rule is needed (unlike Raft's commit rule): a leader here can only be elected
 * from the controller's ISR, which is always a subset of the old leader's maximal ISR, and every member
 * of it holds everything below the HW. What could go wrong is a new leader admitting a follower that
 * lacks records the previous leader acknowledged above our (possibly stale) HW — expansion therefore
 * also requires LEO ≥ leaderEpochStartOffset (see proposeIsrChange).
 */
export function computeLeaderHighWatermark(state: LeaderState, args: { readonly leaderLogEndOffset: number; readonly currentHighWatermark: number }): number {
  let candidate = args.leaderLogEndOffset;
  for (const id of maximalIsr(state)) {
    if (id === state.leaderId) continue;
    const leo = state.followers.get(id)?.logEndOffset ?? UNKNOWN_OFFSET;
    candidate = Math.min(candidate, leo === UNKNOWN_OFFSET ? args.currentHighWatermark : leo);
  }
  const next = Math.max(args.currentHighWatermark, Math.min(candidate, args.leaderLogEndOffset));
  assert(next >= args.currentHighWatermark && next <= Math.max(args.leaderLogEndOffset, args.currentHighWatermark), `high watermark ${args.currentHighWatermark} -> ${next} (LEO ${args.leaderLogEndOffset})`);
  return next;
}

export interface IsrProposalInputs {
  readonly nowMs: number;
  readonly leaderLogEndOffset: number;
  readonly highWatermark: number;
  readonly replicaLagTimeMaxMs: number;
  /**
   * Whether `replicaId` may join the ISR given the broker epoch its last fetch carried: only when the
   * metadata shows it registered with exactly that epoch, unfenced and not shutting down (KIP-841,
   * KIP-903). A restarted broker's old progress (an older epoch) never earns it a place.
   */
  readonly isEligible: (replicaId: number, fetchBrokerEpoch: number) => boolean;
}

/**
 * The next ISR to propose, or undefined. At most one change is in flight per partition. Shrink: a
 * follower not caught up for replicaLagTimeMaxMs leaves (the leader always stays; fenced brokers are
 * removed by the controller itself). Expand: an eligible follower whose LEO ≥ HW and ≥ the leader's
 * epoch start offset joins (the second condition: our HW may lag what the previous leader
 * acknowledged; the epoch start offset does not).
 */
export function proposeIsrChange(state: LeaderState, inputs: IsrProposalInputs): readonly number[] | undefined {
  if (state.pendingIsr !== undefined || inputs.nowMs < state.nextProposalAtMs) return undefined;
  const next = new Set(state.isr);
  next.add(state.leaderId);
  for (const id of state.isr) {
    if (id === state.leaderId) continue;
    const follower = state.followers.get(id);
    if (follower === undefined || inputs.nowMs - follower.lastCaughtUpTimeMs > inputs.replicaLagTimeMaxMs) next.delete(id);
  }
  for (const follower of state.followers.values()) {
    if (state.isr.includes(follower.replicaId)) continue;
    const caughtUp = follower.logEndOffset !== UNKNOWN_OFFSET
      && follower.logEndOffset >= inputs.highWatermark
      && follower.logEndOffset >= state.leaderEpochStartOffset
      && inputs.nowMs - follower.lastCaughtUpTimeMs <= inputs.replicaLagTimeMaxMs;
    if (caughtUp && inputs.isEligible(follower.replicaId, follower.brokerEpoch)) next.add(follower.replicaId);
  }
  const proposed = sortedUnique(next);
  const same = proposed.length === state.isr.length && proposed.every((id, i) => id === state.isr[i]);
  return same ? undefined : proposed;
}

/** The broker epochs the leader saw for the members of `isr` (for the controller's KIP-903 check). */
export function isrBrokerEpochs(state: LeaderState, isr: readonly number[], leaderBrokerEpoch: number): readonly { readonly brokerId: number; readonly brokerEpoch: number }[] {
  return isr.map((brokerId) => ({ brokerId, brokerEpoch: brokerId === state.leaderId ? leaderBrokerEpoch : state.followers.get(brokerId)?.brokerEpoch ?? -1 }));
}

/** Records that `proposedIsr` was sent to the controller. */
export function markIsrChangeSent(state: LeaderState, proposedIsr: readonly number[], nowMs: number, alterPartitionTimeoutMs: number): LeaderState {
  assert(state.pendingIsr === undefined || state.pendingIsr.status === 'unknown', 'an AlterPartition is already in flight');
  assert(proposedIsr.includes(state.leaderId), `proposed ISR [${proposedIsr.join(',')}] lacks the leader ${state.leaderId}`);
  return { ...state, pendingIsr: { proposedIsr, fromPartitionEpoch: state.partitionEpoch, status: 'inflight', retryAtMs: nowMs + alterPartitionTimeoutMs } };
}

/** Errors after which the change certainly did not commit. */
const DEFINITE_REFUSALS: ReadonlySet<string> = new Set(['INVALID_UPDATE_VERSION', 'FENCED_LEADER_EPOCH', 'INELIGIBLE_REPLICA', 'STALE_BROKER_EPOCH', 'UNKNOWN_TOPIC_OR_PARTITION']);

/**
 * The controller's answer to the pending change (ignored if it is about an older proposal).
 * Committed → adopt the returned ISR. Definitely refused → drop the proposal (the committed ISR
 * stands) and back off. Unknown (timeout, network, controller moved) → keep counting it for the HW and
 * re-send the same request after the backoff.
 */
export function applyAlterPartitionResult(state: LeaderState, args: { readonly fromPartitionEpoch: number; readonly result: AlterPartitionResult; readonly nowMs: number; readonly backoffMs: number }): LeaderState {
  const pending = state.pendingIsr;
  if (pending === undefined || pending.fromPartitionEpoch !== args.fromPartitionEpoch) return state;
  const { result } = args;
  if (result.ok) {
    if (result.partition.leaderEpoch !== state.leaderEpoch || result.partition.partitionEpoch <= state.partitionEpoch) return { ...state, pendingIsr: undefined };
    return { ...state, isr: sortedUnique(result.partition.isr), partitionEpoch: result.partition.partitionEpoch, pendingIsr: undefined };
  }
  if (DEFINITE_REFUSALS.has(result.error)) return { ...state, pendingIsr: undefined, nextProposalAtMs: args.nowMs + args.backoffMs };
  return { ...state, pendingIsr: { ...pending, status: 'unknown', retryAtMs: args.nowMs + args.backoffMs } };
}

/** The pending change to re-send now (its outcome is unknown and its retry time came), if any. */
export function isrChangeToRetry(state: LeaderState, nowMs: number): PendingIsrChange | undefined {
  const pending = state.pendingIsr;
  return pending !== undefined && pending.status === 'unknown' && nowMs >= pending.retryAtMs ? pending : undefined;
}
