// The raft state machine (Raft paper + thesis, in etcd-raft's shape). Pure: inputs are messages,
// ticks and proposals; outputs accumulate in `msgs`, `readStates` and the log's unstable tail, which
// RawNode hands to the driver in a Ready. No clocks, I/O or ambient randomness.
//
// Membership changes (one voter or learner at a time) take effect when the application APPLIES the
// conf-change entry and calls applyConfChange(), as in etcd-raft, not when the entry is appended. Why
// this is safe:
//  * A leader proposes a conf change only when every earlier one is applied on it
//    (pendingConfIndex <= applied), and a new leader first treats its whole log, up to and including
//    its own no-op entry, as pending (so it has committed an entry of its term first). So at any
//    time at most one change separates the configurations in use, and two configurations that differ
//    by one voter have intersecting majorities: two nodes using either one cannot both win an
//    election in the same term, nor commit conflicting entries.
//  * Commit only needs a majority of the configuration the leader uses; an entry committed under the
//    old configuration is also on a node of every majority of the new one (same single-server
//    overlap), so leader completeness holds across the switch.
//  * A node never campaigns while it has committed-but-unapplied conf changes: it would count votes
//    with a configuration that may be two changes stale.
// Removing the leader: the leader keeps leading (it is not a voter any more, so its own log no
// longer counts towards commit) until it applies its own removal. Then, being outside the voter set,
// it steps down: if a remaining voter has its whole log it sends that voter timeout-now (so there is
// no election-timeout gap); otherwise the remaining voters elect a leader after their timeouts. The
// removal entry is committed before anyone applies it, so whoever wins has it.
//
// Why one file past 600 lines: it is one state machine — every handler of Step reads and changes the
// same term, vote, log, leader and progress state, and the safety arguments above span the roles (etcd-
// raft keeps raft.go whole for the same reason). What stands alone lives beside it:
// progress.ts and tracker.ts, quorum.ts, raft-log.ts, read-only.ts, message-check.ts.
import { encodeConfChange } from './conf-change-codec.js';
import { entriesPayloadBytes } from './entry-size.js';
import { ProposalDroppedError, invariant } from './errors.js';
import { malformedReason } from './message-check.js';
import type { Progress, ProgressState } from './progress.js';
import { committedIndex, hasQuorum, voteResult, type VoteResult } from './quorum.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly, type ReadRequest } from './read-only.js';
import { ProgressTracker } from './tracker.js';
import type { RaftConfig } from './config.js';
import {
  NONE,
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryType,
  type Message,
  type MessageType,
  type NodeId,
  type RaftStorage,
  type ReadState,
  type Snapshot,
  type StateRole,
} from './types.js';

const EMPTY_BYTES = new Uint8Array(0);
/** Context of a vote request sent because of timeout-now: voters grant it despite a leader lease. */
export const CAMPAIGN_TRANSFER_CONTEXT = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]); // "transfer"

const KNOWN_MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  'app', 'app-resp', 'vote', 'vote-resp', 'pre-vote', 'pre-vote-resp', 'heartbeat', 'heartbeat-resp',
  'snap', 'timeout-now', 'read-index', 'read-index-resp', 'transfer-leader',
]);

/** Messages a follower forwards to its leader with term 0 (they carry no term of their own). */
const FORWARDED_TYPES: ReadonlySet<MessageType> = new Set<MessageType>(['read-index', 'transfer-leader']);

/** Messages only a leader sends to its followers. */
const LEADER_TYPES: ReadonlySet<MessageType> = new Set<MessageType>(['app', 'heartbeat', 'snap']);

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly paused: boolean;
  readonly inflightMsgs: number;
  readonly inflightBytes: number;
  readonly isLearner: boolean;
  readonly pendingSnapshot: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lead: NodeId;
  readonly role: StateRole;
  readonly lastIndex: number;
  readonly firstIndex: number;
  readonly confState: ConfState;
  readonly leadTransferee: NodeId;
  /** Peer messages refused since start: malformed, from a non-member, or with impossible indexes. */
  readonly refusedMessages: number;
  /** Per member, on the leader only. */
  readonly progress?: ReadonlyMap<NodeId, ProgressStatus>;
}

type MessageInit = Partial<Message> & { readonly type: MessageType; readonly to: NodeId };

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: StateRole = 'follower';
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  /** Outgoing messages, handed to the driver by the next Ready (after persistence). */
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NONE;
  /** Index of the newest conf-change entry that may not be applied yet (leader only). */
  private pendingConfIndex = 0;
  /** Payload bytes of entries appended by this leader and not yet applied. */
  private uncommittedBytes = 0;
  private readonly votes = new Map<NodeId, boolean>();
  private readonly readOnly = new ReadOnly();
  /** ReadIndex requests held until this leader commits an entry of its own term. */
  private pendingReadIndex: ReadRequest[] = [];
  /**
   * timeout-now arrived while we still had committed conf changes to apply (typically the removed
   * leader's own removal, sent together with its commit): campaign as soon as they are applied.
   */
  private campaignAfterApply = false;
  /**
   * Follower: the last index known to hold the current leader's entry (from an append it accepted,
   * or a snapshot). A heartbeat may declare at most this much committed (with the last index when
   * the log ends in the leader's own term: by Log Matching every entry up to it is the leader's).
   */
  private leaderMatchIndex = 0;
  /** Messages refused since start (malformed, from a non-member, impossible indexes). */
  refusedMessages = 0;

  constructor(
    readonly config: RaftConfig,
    storage: RaftStorage,
  ) {
    this.id = config.id;
    this.log = new RaftLog(storage, config.maxCommittedBytesPerReady);
    this.tracker = new ProgressTracker(config.maxInflightMsgs, config.maxInflightBytes);
    const { hardState, confState } = storage.initialState();
    this.tracker.restore(confState, this.log.lastIndex() + 1);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) {
      invariant(hardState.commit <= this.log.lastIndex(), () =>
        `stored commit ${hardState.commit} beyond lastIndex ${this.log.lastIndex()}`,
      );
      this.term = hardState.term;
      this.vote = hardState.vote;
      this.log.commitTo(hardState.commit);
    }
    if (config.applied > 0) this.log.appliedTo(config.applied);
    this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign(): void {
    this.hup(false);
  }

  step(m: Message): void {
    if (!KNOWN_MESSAGE_TYPES.has(m.type)) {
      this.config.logger.warn({ type: m.type, from: m.from }, 'nraft: ignoring message of unknown type');
      return;
    }
    if (m.to !== this.id || m.from === NONE || m.from === this.id) {
      this.config.logger.warn({ type: m.type, from: m.from, to: m.to }, 'nraft: ignoring misaddressed message');
      return;
    }
    // Before any term handling: a message no correct member could have sent changes nothing here.
    const refusal = malformedReason(m) ?? this.senderRefusal(m);
    if (refusal !== undefined) {
      this.refuse(m, refusal);
      return;
    }
    if (m.term === 0) {
      // Only requests a follower forwards carry no term; any other term-0 message is malformed.
      if (!FORWARDED_TYPES.has(m.type)) return;
    } else if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'pre-vote') {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER_CONTEXT);
        // Leader stickiness: while we heard from a live leader within the election timeout, a
        // candidate is most likely a partitioned node rejoining; do not let it disrupt the leader.
        const inLease =
          (this.config.checkQuorum || this.config.preVote) &&
          this.lead !== NONE &&
          this.electionElapsed < this.config.electionTicks;
        if (!force && inLease) {
          this.config.logger.info(
            { id: this.id, term: this.term, from: m.from, msgTerm: m.term, type: m.type },
            'nraft: ignoring vote request within leader lease',
          );
          return;
        }
      }
      if (m.type === 'pre-vote') {
        // A pre-vote asks about a term the sender has not entered; ours does not change.
      } else if (m.type === 'pre-vote-resp' && !m.reject) {
        // A granted pre-vote echoes the future term; the candidate bumps its term only when it wins.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (e.g. after a partition) would otherwise never learn the newer term, since
        // pre-vote and leases keep us from bumping terms towards it.
        this.send({ type: 'app-resp', to: m.from });
      } else if (m.type === 'pre-vote') {
        this.send({ type: 'pre-vote-resp', to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case 'vote':
      case 'pre-vote':
        this.handleVoteRequest(m);
        return;
      default:
        break;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  /**
   * Why this node does not take `m` from its sender, or undefined. Only members of the configuration
   * this node applies may speak to it (a removed node, or one that never was a member, cannot bump
   * our term with one message); only voters may ask for votes. Two exceptions keep membership
   * changes live: a node that knows no configuration yet (a newcomer waiting for its first snapshot)
   * cannot tell members apart, and a member whose configuration lags (it has not applied the entry
   * that added the current leader) must still catch up: it follows a leader it does not know only at
   * the term it already has (a voter learns the term from the rejections of its pre-votes), and never
   * instead of a leader it does know. So a non-member can neither raise our term nor displace our
   * leader. The price: a learner whose configuration lacks the current leader (it missed the entry
   * adding it) never campaigns, so cannot learn the term; it catches up once a leader it knows is
   * elected. Trusting a leader it cannot know would let any sender overwrite its log.
   */
  private senderRefusal(m: Message): string | undefined {
    const { voters, learners } = this.tracker;
    if (voters.size === 0 && learners.size === 0) return undefined;
    if (m.type === 'vote' || m.type === 'pre-vote') return voters.has(m.from) ? undefined : 'vote request from a non-voter';
    if (voters.has(m.from) || learners.has(m.from)) return undefined;
    if (LEADER_TYPES.has(m.type) && m.term === this.term && (this.lead === NONE || this.lead === m.from)) return undefined;
    // The leader removed by the conf change we just applied hands over to us (stepDownAfterRemoval).
    if (m.type === 'timeout-now' && m.term === this.term && m.from === this.lead) return undefined;
    return 'sender is not a member';
  }

  private refuse(m: Message, reason: string): void {
    this.refusedMessages++;
    this.config.logger.warn(
      { id: this.id, term: this.term, type: m.type, from: m.from, msgTerm: m.term, reason },
      'nraft: refusing message',
    );
  }

  /** Appends a normal entry; returns its index. Throws ProposalDroppedError. */
  propose(data: Uint8Array): number {
    this.checkCanPropose();
    const index = this.appendEntries([{ type: 'normal', data }]);
    this.bcastAppend();
    return index;
  }

  proposeConfChange(cc: ConfChange): number {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied) {
      throw new ProposalDroppedError(
        'conf-change-pending',
        `conf change at ${this.pendingConfIndex} not applied yet (applied ${this.log.applied})`,
      );
    }
    const index = this.appendEntries([{ type: 'conf-change', data: encodeConfChange(cc) }]);
    this.pendingConfIndex = index;
    this.bcastAppend();
    return index;
  }

  transferLeadership(transferee: NodeId): void {
    if (this.role === 'leader') {
      this.handleTransferLeader(transferee);
    } else if (this.lead !== NONE) {
      // Forwarded with term 0; `index` names the transferee.
      this.send({ type: 'transfer-leader', to: this.lead, term: 0, index: transferee });
    } else {
      throw new ProposalDroppedError('no-leader', 'cannot forward a leadership transfer');
    }
  }

  readIndex(ctx: Uint8Array): void {
    if (this.role === 'leader') {
      if (!this.handleReadIndex({ index: 0, from: this.id, ctx })) {
        throw new ProposalDroppedError('read-index-limit', `${this.config.maxPendingReadIndexRequests} requests pending`);
      }
    } else if (this.lead !== NONE) {
      this.send({ type: 'read-index', to: this.lead, term: 0, context: ctx });
    } else {
      throw new ProposalDroppedError('no-leader', 'cannot forward a read-index request');
    }
  }

  reportUnreachable(id: NodeId): void {
    const pr = this.tracker.progress.get(id);
    if (this.role !== 'leader' || pr === undefined) return;
    // Appends to it were probably lost; stop streaming and probe again.
    if (pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.tracker.progress.get(id);
    if (this.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return;
    // On failure the follower has nothing new: probe from match, not from the snapshot index.
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for its next (heartbeat) response before sending, as etcd does.
    pr.probeSent = true;
  }

  /**
   * Applies a committed conf change (called by the application while applying the entry).
   * Returns the resulting membership. Changes that make no sense (removing the last voter,
   * demoting a voter) are ignored identically on every node.
   */
  applyConfChange(cc: ConfChange): ConfState {
    const id = cc.nodeId;
    let changed = false;
    switch (cc.type) {
      case 'add-voter':
        if (!this.tracker.voters.has(id)) {
          this.tracker.learners.delete(id);
          this.tracker.voters.add(id);
          changed = true;
        }
        break;
      case 'add-learner':
        if (this.tracker.voters.has(id)) {
          this.config.logger.warn({ id: this.id, nodeId: id }, 'nraft: ignoring add-learner for a voter (demotion unsupported)');
        } else if (!this.tracker.learners.has(id)) {
          this.tracker.learners.add(id);
          changed = true;
        }
        break;
      case 'remove-node':
        if (this.tracker.voters.has(id) && this.tracker.voters.size === 1) {
          this.config.logger.warn({ id: this.id, nodeId: id }, 'nraft: ignoring removal of the last voter');
        } else if (this.tracker.voters.delete(id) || this.tracker.learners.delete(id)) {
          this.tracker.progress.delete(id);
          changed = true;
        }
        break;
    }
    if (changed) this.afterConfChange(cc);
    return this.tracker.confState();
  }

  // ---------------------------------------------------------------- ready/advance support

  /** The driver persisted entries up to (index, term) (and a snapshot at snapIndex, if any). */
  onPersisted(entriesThrough: { index: number; term: number } | undefined, snapshotIndex: number | undefined): void {
    if (snapshotIndex !== undefined) this.log.stableSnapTo(snapshotIndex);
    if (entriesThrough !== undefined) this.log.stableTo(entriesThrough.index, entriesThrough.term);
    if (this.role === 'leader') {
      const self = this.tracker.progress.get(this.id);
      if (self !== undefined && self.maybeUpdate(this.log.persistedLastIndex()) && this.maybeCommit()) {
        this.bcastAppend();
      }
    }
  }

  /** The application applied everything through `index` (and released those entries' budget). */
  onApplied(index: number, appliedEntries: readonly Entry[]): void {
    this.log.appliedTo(index);
    if (this.role === 'leader') {
      this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entriesPayloadBytes(appliedEntries));
    }
    if (this.campaignAfterApply && this.role === 'follower' && !this.hasUnappliedConfChanges()) {
      this.campaignAfterApply = false;
      this.hup(true);
    }
  }

  hardState(): { term: number; vote: NodeId; commit: number } {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  status(): RaftStatus {
    let progress: Map<NodeId, ProgressStatus> | undefined;
    if (this.role === 'leader') {
      progress = new Map();
      for (const [id, pr] of this.tracker.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: pr.recentActive,
          paused: pr.isPaused(),
          inflightMsgs: pr.inflights.count(),
          inflightBytes: pr.inflights.bytes(),
          isLearner: this.tracker.learners.has(id),
          pendingSnapshot: pr.pendingSnapshot,
        });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      lead: this.lead,
      role: this.role,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(),
      confState: this.tracker.confState(),
      leadTransferee: this.leadTransferee,
      refusedMessages: this.refusedMessages,
      ...(progress === undefined ? {} : { progress }),
    };
  }

  // ---------------------------------------------------------------- role transitions

  private setRole(to: StateRole): void {
    if (this.role !== to) {
      this.config.logger.info({ id: this.id, term: this.term, from: this.role, to }, `nraft: ${this.role} -> ${to}`);
    }
    this.role = to;
  }

  private reset(term: number): void {
    invariant(term >= this.term, () => `term going backwards: ${this.term} -> ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.config.electionTicks + this.config.random.intn(this.config.electionTicks);
    this.leadTransferee = NONE;
    this.leaderMatchIndex = 0;
    this.votes.clear();
    const persisted = this.log.persistedLastIndex();
    this.tracker.resetProgress(this.log.lastIndex() + 1, (id) => (id === this.id ? persisted : 0));
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly.reset();
    this.pendingReadIndex = [];
    this.campaignAfterApply = false;
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.setRole('follower');
  }

  private becomePreCandidate(): void {
    invariant(this.role !== 'leader', 'leader -> pre-candidate');
    // The term and vote stay: a pre-election changes no persistent state.
    this.votes.clear();
    this.lead = NONE;
    this.electionElapsed = 0;
    this.setRole('pre-candidate');
  }

  private becomeCandidate(): void {
    invariant(this.role !== 'leader', 'leader -> candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.setRole('candidate');
  }

  private becomeLeader(): void {
    invariant(this.role === 'candidate', () => `${this.role} -> leader`);
    this.reset(this.term);
    this.lead = this.id;
    this.setRole('leader');
    const self = this.tracker.progress.get(this.id);
    invariant(self !== undefined, 'leader is not a member');
    self.becomeReplicate();
    self.recentActive = true;
    // The no-op entry of this term lets earlier-term entries commit (Figure 8) and makes ReadIndex safe.
    const noopIndex = this.appendEntries([{ type: 'normal', data: EMPTY_BYTES }]);
    // Entries from earlier terms may hold an unapplied conf change, so the whole log counts as pending;
    // including the no-op means no conf change is proposed before this term has committed an entry
    // (the fix to single-server changes across leader changes, Ongaro, raft-dev 2015).
    this.pendingConfIndex = noopIndex;
    this.bcastAppend();
  }

  // ---------------------------------------------------------------- elections

  private promotable(): boolean {
    return this.tracker.voters.has(this.id) && this.log.unstable.snapshot === undefined;
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) {
        const active = hasQuorum(this.tracker.voters, (id) => id === this.id || this.tracker.progress.get(id)?.recentActive === true);
        for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false;
        if (!active) {
          this.config.logger.warn({ id: this.id, term: this.term }, 'nraft: leader lost contact with a quorum, stepping down');
          this.becomeFollower(this.term, NONE);
          return;
        }
      }
      // A transfer that did not finish within an election timeout has failed: accept proposals again.
      if (this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    let lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    const hi = this.log.committed + 1;
    while (lo < hi) {
      const page = this.log.slice(lo, hi, this.config.maxCommittedBytesPerReady);
      if (page.some((e) => e.type === 'conf-change')) return true;
      lo += page.length;
    }
    return false;
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) {
      this.config.logger.debug({ id: this.id }, 'nraft: not promotable, not campaigning');
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.config.logger.warn({ id: this.id, term: this.term }, 'nraft: not campaigning with unapplied conf changes');
      return;
    }
    this.startCampaign(this.config.preVote && !transfer ? 'pre-vote' : 'vote', transfer);
  }

  private startCampaign(kind: 'pre-vote' | 'vote', transfer: boolean): void {
    let voteTerm: number;
    if (kind === 'pre-vote') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter configuration wins on its own vote.
      if (kind === 'pre-vote') this.startCampaign('vote', transfer);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of [...this.tracker.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send({
        type: kind,
        to: id,
        term: voteTerm,
        index: lastIndex,
        logTerm: lastTerm,
        context: transfer ? CAMPAIGN_TRANSFER_CONTEXT : EMPTY_BYTES,
      });
    }
  }

  private poll(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteResult(this.tracker.voters, this.votes);
  }

  private handleVoteRequest(m: Message): void {
    const respType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
    // We can vote for m.from if we already did in this term, or have not voted and know no leader,
    // or (pre-vote) it asks about a later term than ours.
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'pre-vote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Granted responses echo the requested term, so a pre-candidate can count them.
      this.send({ type: respType, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    const myResp: MessageType = this.role === 'pre-candidate' ? 'pre-vote-resp' : 'vote-resp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      default:
        break;
    }
    if (m.type !== myResp) return;
    // A granted pre-vote echoes the term we asked about; any other term answers no request of ours.
    if (this.role === 'pre-candidate' && !m.reject && m.term !== this.term + 1) return;
    const result = this.poll(m.from, !m.reject);
    if (result === 'won') {
      if (this.role === 'pre-candidate') this.startCampaign('vote', false);
      else this.becomeLeader();
    } else if (result === 'lost') {
      // A rejected pre-candidate keeps its term; a rejected candidate stays at the new one.
      this.becomeFollower(this.term, NONE);
    }
  }

  // ---------------------------------------------------------------- follower

  private stepFollower(m: Message): void {
    if (LEADER_TYPES.has(m.type) && this.lead !== NONE && this.lead !== m.from) {
      // One leader per term: a second one in our term is not a correct member.
      this.refuse(m, `leader of term ${this.term} is ${this.lead}`);
      return;
    }
    if (m.type === 'timeout-now' && m.from !== this.lead) {
      // Only our leader may hand leadership over to us.
      this.refuse(m, `timeout-now from ${m.from}, but the leader of term ${this.term} is ${this.lead}`);
      return;
    }
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeout-now':
        // The leader chose us: campaign at once, skipping pre-vote and voters' leases.
        if (this.hasUnappliedConfChanges()) this.campaignAfterApply = true;
        else this.hup(true);
        return;
      case 'read-index-resp':
        this.readStates.push({ index: m.index, requestCtx: m.context });
        return;
      default:
        // Forwarded requests reaching a non-leader are dropped rather than forwarded again (no loops).
        return;
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      // Committed entries are on the leader too (Leader Completeness): they match it.
      this.leaderMatchIndex = Math.max(this.leaderMatchIndex, this.log.committed);
      this.send({ type: 'app-resp', to: m.from, index: this.log.committed });
      return;
    }
    // The commit a leader sends is clamped to the entries this append proved we share (etcd-raft's
    // commitTo(min(m.Commit, lastNewIndex))), so a commit index past our log end never lands.
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.leaderMatchIndex = Math.max(this.leaderMatchIndex, lastNew);
      this.send({ type: 'app-resp', to: m.from, index: lastNew });
      return;
    }
    // Fast backtracking: tell the leader the largest index <= m.index whose term is <= m.logTerm;
    // every entry between it and m.index has a term the leader's entry at m.index rules out.
    const hintIndex = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: 'app-resp',
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hintIndex,
      rejectHintTerm: this.log.termOrZero(hintIndex),
    });
  }

  private handleHeartbeat(m: Message): void {
    // A correct leader declares at most min(match, committed); anything beyond what we know to share
    // with it (a lost log tail, a confused or hostile sender) is clamped, never trusted.
    const lastIndex = this.log.lastIndex();
    const known = Math.max(this.leaderMatchIndex, this.log.termOrZero(lastIndex) === this.term ? lastIndex : 0);
    if (m.commit > known && m.commit > this.log.committed) {
      this.config.logger.debug({ id: this.id, term: this.term, commit: m.commit, known, lastIndex }, 'nraft: heartbeat commit clamped');
    }
    this.log.commitTo(Math.min(m.commit, known));
    this.send({ type: 'heartbeat-resp', to: m.from, context: m.context });
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (snap === undefined) return;
    if (this.restore(snap)) {
      this.leaderMatchIndex = this.log.lastIndex();
      this.send({ type: 'app-resp', to: m.from, index: this.log.lastIndex() });
    } else {
      this.send({ type: 'app-resp', to: m.from, index: this.log.committed });
    }
  }

  private restore(snap: Snapshot): boolean {
    const { index, term, confState } = snap.metadata;
    if (index <= this.log.committed) return false;
    invariant(this.role === 'follower', () => `restoring a snapshot as ${this.role}`);
    if (this.log.matchTerm(index, term)) {
      // We already have the snapshot's last entry: just learn that it is committed.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snap);
    this.tracker.restore(confState, this.log.lastIndex() + 1);
    this.config.logger.info({ id: this.id, term: this.term, index, snapTerm: term }, 'nraft: restored snapshot');
    return true;
  }

  // ---------------------------------------------------------------- leader

  private checkCanPropose(): void {
    if (this.role !== 'leader') throw new ProposalDroppedError('not-leader', `leader is ${this.lead}`);
    if (!this.tracker.voters.has(this.id)) throw new ProposalDroppedError('not-member');
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError('transfer-in-progress', `transferring to ${this.leadTransferee}`);
    }
  }

  /** Appends entries of the current term; returns the last index. Throws when over the uncommitted limit. */
  private appendEntries(es: readonly { type: EntryType; data: Uint8Array }[]): number {
    const li = this.log.lastIndex();
    const ents: Entry[] = es.map((e, i) => ({ term: this.term, index: li + 1 + i, type: e.type, data: e.data }));
    const bytes = entriesPayloadBytes(ents);
    // The first proposal always fits (so one huge entry cannot wedge the leader); empty entries are free.
    if (this.uncommittedBytes > 0 && bytes > 0 && this.uncommittedBytes + bytes > this.config.maxUncommittedEntriesBytes) {
      throw new ProposalDroppedError(
        'uncommitted-limit',
        `${this.uncommittedBytes} + ${bytes} bytes > maxUncommittedEntriesBytes ${this.config.maxUncommittedEntriesBytes}`,
      );
    }
    this.uncommittedBytes += bytes;
    return this.log.append(ents);
  }

  private maybeCommit(): boolean {
    const idx = committedIndex(this.tracker.voters, (id) => this.tracker.progress.get(id)?.match);
    if (!this.log.maybeCommit(idx, this.term)) return false;
    this.releasePendingReadIndex();
    return true;
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        // We lead this term, so no correct member sends this: refuse it rather than trust it.
        this.refuse(m, `${this.id} is the leader of term ${this.term}`);
        return;
      case 'read-index':
        this.handleReadIndex({ index: 0, from: m.from, ctx: m.context });
        return;
      case 'transfer-leader':
        this.handleTransferLeader(m.index);
        return;
      default:
        break;
    }
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) {
      this.config.logger.debug({ id: this.id, from: m.from, type: m.type }, 'nraft: ignoring message from non-member');
      return;
    }
    switch (m.type) {
      case 'app-resp':
        this.handleAppendResponse(m, pr);
        return;
      case 'heartbeat-resp':
        this.handleHeartbeatResponse(m, pr);
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (!m.reject && m.index > this.log.lastIndex()) {
      this.refuse(m, `acknowledges index ${m.index} beyond our last index ${this.log.lastIndex()}`);
      return;
    }
    pr.recentActive = true;
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if ((m.rejectHintTerm ?? 0) > 0) {
        // Skip every leader entry with a term above the follower's conflicting term in one step.
        nextProbe = this.log.findConflictByTerm(m.rejectHint, m.rejectHintTerm ?? 0);
      }
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      // The snapshot (or a newer ack) covers the compaction point: entries can flow again.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from);
    }
    // Keep the pipe full, bounded by the inflight limits.
    while (this.maybeSendAppend(m.from, false)) {
      /* sends until paused or caught up */
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeout-now', to: m.from });
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // A full window and a live follower means appends or their acks were lost: free one slot so the
    // append below goes out (a lost append is then repaired by the follower's rejection).
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (m.context.byteLength === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined || !hasQuorum(this.tracker.voters, (id) => acks.has(id))) return;
    for (const req of this.readOnly.advance(m.context)) this.respondToRead(req, req.index);
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends the next append (or a snapshot) to `to` unless its progress is paused. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const firstIndex = this.log.firstIndex();
    if (prevIndex < firstIndex - 1) return this.sendSnapshot(to, pr);
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.entriesFrom(pr.next, this.config.maxSizePerMsgBytes);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    const last = entries[entries.length - 1];
    pr.sentEntries(last?.index ?? prevIndex, entries.length, entriesPayloadBytes(entries));
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    // An inactive follower would just drop a (large) snapshot; wait until it answers again.
    if (!pr.recentActive) return false;
    const snap = this.log.snapshot();
    invariant(snap.metadata.index > 0, () => `follower ${to} needs entries before ${this.log.firstIndex()} but there is no snapshot`);
    this.send({ type: 'snap', to, snapshot: snap });
    pr.becomeSnapshot(snap.metadata.index);
    this.config.logger.info({ id: this.id, term: this.term, to, index: snap.metadata.index }, 'nraft: sent snapshot');
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.tracker.members()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingCtx() ?? EMPTY_BYTES;
    for (const id of this.tracker.members()) {
      if (id === this.id) continue;
      const pr = this.tracker.progress.get(id)!;
      // Only what the follower is known to hold may be declared committed to it.
      this.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.log.committed), context: ctx });
    }
  }

  private handleTransferLeader(transferee: NodeId): void {
    const pr = this.tracker.progress.get(transferee);
    if (transferee === this.id || pr === undefined || !this.tracker.voters.has(transferee)) {
      this.config.logger.info({ id: this.id, transferee }, 'nraft: ignoring transfer to self, a learner or a non-member');
      return;
    }
    if (this.leadTransferee === transferee) return;
    // The transfer must finish within one election timeout (tickHeartbeat aborts it then).
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    this.config.logger.info({ id: this.id, term: this.term, transferee }, 'nraft: transferring leadership');
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeout-now', to: transferee });
    else this.sendAppend(transferee);
  }

  /** Returns false when the request was dropped (limit reached). */
  private handleReadIndex(req: ReadRequest): boolean {
    if (this.tracker.voters.size === 1 && this.tracker.voters.has(this.id)) {
      this.respondToRead(req, this.log.committed);
      return true;
    }
    if (this.readOnly.size() + this.pendingReadIndex.length >= this.config.maxPendingReadIndexRequests) return false;
    // Until an entry of this term commits, our commit index may lag the true one (Raft thesis §6.4).
    if (this.log.termOrZero(this.log.committed) !== this.term) {
      this.pendingReadIndex.push(req);
      return true;
    }
    this.startReadRound(req);
    return true;
  }

  private startReadRound(req: ReadRequest): void {
    const withIndex: ReadRequest = { index: this.log.committed, from: req.from, ctx: req.ctx };
    if (!this.readOnly.add(withIndex)) return;
    this.readOnly.recvAck(this.id, req.ctx);
    this.bcastHeartbeat();
  }

  private releasePendingReadIndex(): void {
    if (this.pendingReadIndex.length === 0 || this.log.termOrZero(this.log.committed) !== this.term) return;
    const pending = this.pendingReadIndex;
    this.pendingReadIndex = [];
    for (const req of pending) this.startReadRound(req);
  }

  private respondToRead(req: ReadRequest, index: number): void {
    if (req.from === this.id) this.readStates.push({ index, requestCtx: req.ctx });
    else this.send({ type: 'read-index-resp', to: req.from, index, context: req.ctx });
  }

  private afterConfChange(cc: ConfChange): void {
    this.config.logger.info({ id: this.id, term: this.term, change: cc, conf: this.tracker.confState() }, 'nraft: applied conf change');
    if (cc.type !== 'remove-node' && !this.tracker.progress.has(cc.nodeId)) {
      const pr = this.tracker.newProgress(cc.nodeId, this.log.lastIndex() + 1, 0);
      // Give the newcomer a full CheckQuorum window before it counts as unreachable.
      pr.recentActive = true;
      this.tracker.progress.set(cc.nodeId, pr);
    }
    const pr = this.tracker.progress.get(cc.nodeId);
    if (pr !== undefined) pr.isLearner = this.tracker.learners.has(cc.nodeId);
    if (this.role !== 'leader') return;
    if (this.leadTransferee !== NONE && !this.tracker.voters.has(this.leadTransferee)) this.leadTransferee = NONE;
    if (!this.tracker.voters.has(this.id)) {
      this.stepDownAfterRemoval();
      return;
    }
    // A smaller quorum may commit more; a new member needs the log.
    if (this.maybeCommit()) this.bcastAppend();
    else if (cc.type !== 'remove-node') this.sendAppend(cc.nodeId);
  }

  private stepDownAfterRemoval(): void {
    let best: NodeId = NONE;
    for (const id of [...this.tracker.voters].sort((a, b) => a - b)) {
      const pr = this.tracker.progress.get(id);
      if (pr !== undefined && pr.match === this.log.lastIndex() && best === NONE) best = id;
    }
    if (best !== NONE) this.send({ type: 'timeout-now', to: best });
    this.config.logger.info({ id: this.id, term: this.term, successor: best }, 'nraft: removed from the configuration, stepping down');
    this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------- output

  private send(init: MessageInit): void {
    const m: Message = {
      type: init.type,
      from: this.id,
      to: init.to,
      term: init.term ?? this.term,
      logTerm: init.logTerm ?? 0,
      index: init.index ?? 0,
      entries: init.entries ?? [],
      commit: init.commit ?? 0,
      reject: init.reject ?? false,
      rejectHint: init.rejectHint ?? 0,
      ...(init.rejectHintTerm === undefined ? {} : { rejectHintTerm: init.rejectHintTerm }),
      ...(init.snapshot === undefined ? {} : { snapshot: init.snapshot }),
      context: init.context ?? EMPTY_BYTES,
    };
    this.msgs.push(m);
  }
}
