// One consumer group as a pure state machine (DESIGN.md §5, consumer groups). Requests and ticks go in,
// the next group and the replies to send come out; no clocks, timers or I/O (time is `nowMs`, new member
// ids are passed in). The coordinator shell (group-coordinator.ts) parks JoinGroup calls by `requestId`
// and answers them when a step returns a reply for that id; it also persists what `persist` says.
//
// States (Kafka's GroupMetadata): Empty → PreparingRebalance (a member joins or leaves) → CompletingRebalance
// (every member rejoined or the rebalance timeout passed: a new generation and its assignment exist) →
// Stable (every member fetched its assignment with SyncGroup) → PreparingRebalance ... Dead once deleted
// or expired. Only `transition` changes `state`, and it logs `from -> to`.
import { assert, type ErrorCodeName } from '../errors.js';
import {
  assignorFor, compareTopicPartitions, type AssignmentStrategy, type RebalanceProtocol, type TopicPartition,
} from './assignors/index.js';

export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

/** Which transitions are legal (Kafka's GroupState.validPreviousStates, read forwards). */
const NEXT_STATES: Readonly<Record<GroupStateName, readonly GroupStateName[]>> = {
  Empty: ['PreparingRebalance', 'Dead'],
  PreparingRebalance: ['CompletingRebalance', 'Empty', 'Dead'],
  CompletingRebalance: ['Stable', 'PreparingRebalance', 'Empty', 'Dead'],
  Stable: ['PreparingRebalance', 'Empty', 'Dead'],
  Dead: [],
};

/** Bounds (Kafka's broker defaults). */
export const GROUP_MAX_SIZE = 1_000;
export const OFFSET_METADATA_MAX_BYTES = 4_096;
/** Most partitions one TxnOffsetCommit may name (they are written as one batch); more is INVALID_ARGUMENT. */
export const TXN_OFFSET_COMMIT_MAX_PARTITIONS = 10_000;

export interface GroupLogger {
  info(obj: object, msg: string): void;
}

/** What every step gets from the shell: the time, a logger, and the partition counts the assignor sees. */
export interface StepContext {
  readonly nowMs: number;
  readonly logger: GroupLogger;
  /** Partition count per existing topic (from the metadata). */
  readonly partitionCounts: ReadonlyMap<string, number>;
  /** group.{min,max}.session.timeout.ms: the session timeouts a member may ask for, closed range, milliseconds. */
  readonly sessionTimeoutMs: { readonly min: number; readonly max: number };
}

export interface Member {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly strategies: readonly string[];
  readonly topics: readonly string[];
  readonly ownedPartitions: readonly TopicPartition[];
  /** Generation in which ownedPartitions were assigned (-1 = none). */
  readonly ownedGeneration: number;
  /** Last sign of life (heartbeat, join, sync, commit). */
  readonly lastSeenMs: number;
  /** A parked JoinGroup call waiting for the join phase to finish, or null. */
  readonly pendingJoin: string | null;
  /** SyncGroup seen for the current generation. */
  readonly synced: boolean;
}

export interface CommittedOffset {
  readonly offset: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
  /**
   * Base offset, in `__consumer_offsets`, of the batch that wrote this commit. Of two commits of one
   * partition the one written later wins (Kafka's CommitRecordMetadataAndOffset.olderThan): it orders a
   * transactional commit against plain ones when its marker arrives.
   */
  readonly recordOffset: number;
}

export interface Group {
  readonly groupId: string;
  readonly state: GroupStateName;
  readonly generation: number;
  /** Chosen assignment strategy of the generation; null when Empty. */
  readonly protocolName: AssignmentStrategy | null;
  readonly protocolType: string;
  readonly leaderId: string | null;
  readonly members: ReadonlyMap<string, Member>;
  readonly assignment: ReadonlyMap<string, readonly TopicPartition[]>;
  readonly revoked: ReadonlyMap<string, readonly TopicPartition[]>;
  /** Cooperative: partitions were withheld this generation, so another rebalance follows once Stable. */
  readonly followUpRebalance: boolean;
  /** End of the join phase (PreparingRebalance only). */
  readonly rebalanceDeadlineMs: number;
  /** When the group last changed state (offsets of an Empty group expire counting from here). */
  readonly stateSinceMs: number;
  /** Committed offsets by `topic\0partition`. */
  readonly offsets: ReadonlyMap<string, CommittedOffset & TopicPartition>;
  /**
   * Transactional commits written but not yet decided (txn-offsets.ts), by producer id, then by
   * `topic\0partition`: invisible to OffsetFetch until that producer's COMMIT marker; dropped by ABORT.
   */
  readonly pendingTxnOffsets: ReadonlyMap<number, ReadonlyMap<string, CommittedOffset & TopicPartition>>;
}

export interface JoinReply {
  readonly type: 'join';
  readonly requestId: string;
  readonly error: ErrorCodeName | null;
  readonly memberId: string;
  readonly generation: number;
  readonly protocolName: string;
  readonly rebalanceProtocol: RebalanceProtocol | '';
  readonly leaderId: string;
  readonly members: readonly string[];
}

/** What the shell must write to `__consumer_offsets` after the step (group metadata, offsets). */
export interface StepResult {
  readonly group: Group;
  readonly replies: readonly JoinReply[];
  /** The generation, membership or assignment changed: write a group metadata record. */
  readonly persistGroup: boolean;
  /** Offsets that expired or were removed: write tombstones for them. */
  readonly removedOffsets: readonly TopicPartition[];
}

export const offsetKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export function newGroup(groupId: string, nowMs: number): Group {
  return {
    groupId, state: 'Empty', generation: 0, protocolName: null, protocolType: 'consumer', leaderId: null,
    members: new Map(), assignment: new Map(), revoked: new Map(), followUpRebalance: false,
    rebalanceDeadlineMs: 0, stateSinceMs: nowMs, offsets: new Map(), pendingTxnOffsets: new Map(),
  };
}

/** The only place `state` changes. */
export function transition(group: Group, to: GroupStateName, nowMs: number, logger: GroupLogger): Group {
  if (group.state === to) return group;
  assert(NEXT_STATES[group.state].includes(to), `group ${group.groupId}: illegal transition ${group.state} -> ${to}`);
  logger.info({ group: group.groupId, generation: group.generation, members: group.members.size }, `${group.state} -> ${to}`);
  return { ...group, state: to, stateSinceMs: nowMs };
}

function result(group: Group, extra: Partial<Omit<StepResult, 'group'>> = {}): StepResult {
  return { group, replies: extra.replies ?? [], persistGroup: extra.persistGroup ?? false, removedOffsets: extra.removedOffsets ?? [] };
}

function withMembers(group: Group, members: Map<string, Member>): Group {
  return { ...group, members };
}

function touch(group: Group, memberId: string, nowMs: number): Group {
  const m = group.members.get(memberId);
  if (m === undefined) return group;
  const members = new Map(group.members);
  members.set(memberId, { ...m, lastSeenMs: nowMs });
  return withMembers(group, members);
}

// ---- membership ------------------------------------------------------------------------------------

export interface JoinInput {
  readonly requestId: string;
  /** '' on a first join. */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly strategies: readonly string[];
  readonly topics: readonly string[];
  readonly ownedPartitions: readonly TopicPartition[];
  readonly ownedGeneration: number;
  /** A fresh id the coordinator would give a new member (randomness stays in the shell). */
  readonly newMemberId: string;
}

function joinError(requestId: string, memberId: string, error: ErrorCodeName): JoinReply {
  return { type: 'join', requestId, error, memberId, generation: -1, protocolName: '', rebalanceProtocol: '', leaderId: '', members: [] };
}

function sameSubscription(a: Member, b: JoinInput): boolean {
  return a.topics.length === b.topics.length && [...a.topics].sort().join('\u0000') === [...b.topics].sort().join('\u0000')
    && a.strategies.join('\u0000') === b.strategies.join('\u0000');
}

/** JoinGroup: parks the request (replies come when the join phase completes) unless it fails at once. */
export function join(group: Group, input: JoinInput, ctx: StepContext): StepResult {
  const { nowMs, logger } = ctx;
  if (group.state === 'Dead') return result(group, { replies: [joinError(input.requestId, input.memberId, 'COORDINATOR_NOT_AVAILABLE')] });
  if (input.sessionTimeoutMs < ctx.sessionTimeoutMs.min || input.sessionTimeoutMs > ctx.sessionTimeoutMs.max) {
    return result(group, { replies: [joinError(input.requestId, input.memberId, 'INVALID_SESSION_TIMEOUT')] });
  }
  if (input.protocolType !== group.protocolType || input.strategies.length === 0
    || (group.members.size > 0 && selectStrategy([...group.members.values()].map((m) => m.strategies).concat([input.strategies])) === null)) {
    return result(group, { replies: [joinError(input.requestId, input.memberId, 'INCONSISTENT_GROUP_PROTOCOL')] });
  }
  let memberId = input.memberId;
  let replaced: string | null = null;
  if (input.groupInstanceId !== null) {
    const current = [...group.members.values()].find((m) => m.groupInstanceId === input.groupInstanceId);
    if (current !== undefined && memberId !== '' && memberId !== current.memberId) {
      return result(group, { replies: [joinError(input.requestId, memberId, 'FENCED_INSTANCE_ID')] });
    }
    if (current !== undefined && memberId === '') {
      // A restarted static member takes over its old member id's place under a new id.
      replaced = current.memberId;
      memberId = input.newMemberId;
    }
  }
  const existing = memberId === '' ? undefined : group.members.get(memberId);
  if (memberId !== '' && existing === undefined && replaced === null) {
    return result(group, { replies: [joinError(input.requestId, memberId, 'UNKNOWN_MEMBER_ID')] });
  }
  if (memberId === '') {
    if (group.members.size >= GROUP_MAX_SIZE) return result(group, { replies: [joinError(input.requestId, '', 'GROUP_MAX_SIZE_REACHED')] });
    memberId = input.newMemberId;
  }
  const previous = replaced !== null ? group.members.get(replaced)! : existing;
  const member: Member = {
    memberId, groupInstanceId: input.groupInstanceId, clientId: input.clientId, sessionTimeoutMs: input.sessionTimeoutMs,
    rebalanceTimeoutMs: input.rebalanceTimeoutMs, strategies: input.strategies, topics: input.topics,
    ownedPartitions: replaced !== null ? previous!.ownedPartitions : input.ownedPartitions,
    ownedGeneration: replaced !== null ? previous!.ownedGeneration : input.ownedGeneration,
    lastSeenMs: nowMs, pendingJoin: input.requestId, synced: false,
  };
  const members = new Map(group.members);
  const replies: JoinReply[] = [];
  if (previous?.pendingJoin !== null && previous?.pendingJoin !== undefined && previous.pendingJoin !== input.requestId) {
    // A retried join supersedes the parked one.
    replies.push(joinError(previous.pendingJoin, previous.memberId, 'UNKNOWN_MEMBER_ID'));
  }
  if (replaced !== null) {
    members.delete(replaced);
    members.set(memberId, member);
    let g: Group = withMembers(group, members);
    const assignment = new Map(g.assignment);
    if (assignment.has(replaced)) {
      assignment.set(memberId, assignment.get(replaced)!);
      assignment.delete(replaced);
    }
    g = { ...g, assignment, leaderId: g.leaderId === replaced ? memberId : g.leaderId };
    logger.info({ group: group.groupId, groupInstanceId: input.groupInstanceId, from: replaced, to: memberId }, 'static member rejoined');
    if ((group.state === 'Stable' || group.state === 'CompletingRebalance') && sameSubscription(previous!, input)) {
      // Unchanged subscription: hand back the current generation without a rebalance (KIP-345).
      members.set(memberId, { ...member, pendingJoin: null });
      replies.push(joinReplyFor(g, memberId, input.requestId));
      return result(withMembers(g, members), { replies, persistGroup: true });
    }
    const prepared = prepareRebalance(g, nowMs, logger);
    const done = maybeCompleteJoin(prepared, ctx);
    return { ...done, replies: [...replies, ...done.replies] };
  }
  members.set(memberId, member);
  let g = withMembers(group, members);
  if (g.state !== 'PreparingRebalance') g = prepareRebalance(g, nowMs, logger);
  const done = maybeCompleteJoin(g, ctx);
  return { ...done, replies: [...replies, ...done.replies] };
}

function joinReplyFor(group: Group, memberId: string, requestId: string): JoinReply {
  const strategy = group.protocolName === null ? null : assignorFor(group.protocolName);
  return {
    type: 'join', requestId, error: null, memberId, generation: group.generation, protocolName: group.protocolName ?? '',
    rebalanceProtocol: strategy?.protocol ?? '', leaderId: group.leaderId ?? '', members: [...group.members.keys()].sort(),
  };
}

function prepareRebalance(group: Group, nowMs: number, logger: GroupLogger): Group {
  let deadline = nowMs;
  for (const m of group.members.values()) deadline = Math.max(deadline, nowMs + m.rebalanceTimeoutMs);
  const members = new Map<string, Member>();
  for (const [id, m] of group.members) members.set(id, { ...m, synced: false });
  return { ...transition(group, 'PreparingRebalance', nowMs, logger), members, rebalanceDeadlineMs: deadline };
}

/**
 * Most-voted strategy every member supports (Kafka's GroupMetadata.selectProtocol): each member votes
 * for its most preferred candidate; ties go to the earlier one in the first member's list.
 */
export function selectStrategy(preferences: readonly (readonly string[])[]): AssignmentStrategy | null {
  if (preferences.length === 0) return null;
  const candidates = preferences[0]!.filter((s) => assignorFor(s) !== null && preferences.every((p) => p.includes(s)));
  if (candidates.length === 0) return null;
  const votes = new Map<string, number>();
  for (const p of preferences) {
    const vote = p.find((s) => candidates.includes(s))!;
    votes.set(vote, (votes.get(vote) ?? 0) + 1);
  }
  let best = candidates[0]!;
  for (const c of candidates) if ((votes.get(c) ?? 0) > (votes.get(best) ?? 0)) best = c;
  return best as AssignmentStrategy;
}

/** Ends the join phase when every member has a parked join, or the rebalance deadline passed. */
function maybeCompleteJoin(group: Group, ctx: StepContext): StepResult {
  const { nowMs, logger } = ctx;
  if (group.state !== 'PreparingRebalance') return result(group);
  const all = [...group.members.values()];
  const waiting = all.filter((m) => m.pendingJoin === null);
  if (waiting.length > 0 && nowMs < group.rebalanceDeadlineMs) return result(group);
  // Members that did not rejoin in time are out (max.poll.interval.ms exceeded).
  const members = new Map(group.members);
  for (const m of waiting) {
    members.delete(m.memberId);
    logger.info({ group: group.groupId, memberId: m.memberId }, 'member removed: did not rejoin within the rebalance timeout');
  }
  let g = withMembers(group, members);
  if (members.size === 0) {
    g = { ...transition(g, 'Empty', nowMs, logger), generation: g.generation + 1, protocolName: null, leaderId: null, assignment: new Map(), revoked: new Map(), followUpRebalance: false };
    return result(g, { persistGroup: true });
  }
  return completeJoin(g, ctx);
}

function completeJoin(group: Group, ctx: StepContext): StepResult {
  const { nowMs, logger } = ctx;
  const members = [...group.members.values()];
  const strategyName = selectStrategy(members.map((m) => m.strategies));
  assert(strategyName !== null, `group ${group.groupId}: members share no strategy (join checks it)`);
  const assignor = assignorFor(strategyName)!;
  const generation = group.generation + 1;
  const cooperative = assignor.protocol === 'cooperative';
  const out = assignor.assign({
    members: members.map((m) => ({
      memberId: m.memberId, groupInstanceId: m.groupInstanceId, topics: m.topics,
      ownedPartitions: cooperative ? m.ownedPartitions : [], generation: cooperative ? m.ownedGeneration : -1,
    })),
    partitionCounts: ctx.partitionCounts,
  });
  const sortedIds = members.map((m) => m.memberId).sort();
  const leaderId = group.leaderId !== null && group.members.has(group.leaderId) ? group.leaderId : sortedIds[0]!;
  let g: Group = {
    ...group, generation, protocolName: strategyName, leaderId, assignment: out.assignment,
    revoked: cooperative ? out.revoked : new Map(), followUpRebalance: out.followUpRebalance,
  };
  g = transition(g, 'CompletingRebalance', nowMs, logger);
  const replies: JoinReply[] = [];
  const next = new Map<string, Member>();
  for (const m of members) {
    if (m.pendingJoin !== null) replies.push(joinReplyFor(g, m.memberId, m.pendingJoin));
    next.set(m.memberId, { ...m, pendingJoin: null, lastSeenMs: nowMs, synced: false });
  }
  return result(withMembers(g, next), { replies, persistGroup: true });
}

export interface SyncOutcome {
  readonly step: StepResult;
  readonly error: ErrorCodeName | null;
  readonly assignment: readonly TopicPartition[];
  readonly revoked: readonly TopicPartition[];
}

function checkMember(group: Group, memberId: string, groupInstanceId: string | null, generation: number): ErrorCodeName | null {
  const member = group.members.get(memberId);
  if (member === undefined) {
    if (groupInstanceId !== null && [...group.members.values()].some((m) => m.groupInstanceId === groupInstanceId)) return 'FENCED_INSTANCE_ID';
    return 'UNKNOWN_MEMBER_ID';
  }
  if (groupInstanceId !== null && member.groupInstanceId !== groupInstanceId) return 'FENCED_INSTANCE_ID';
  if (generation !== group.generation) return 'ILLEGAL_GENERATION';
  return null;
}

/** SyncGroup: the member's share of the generation's assignment (computed when the join phase ended). */
export function sync(group: Group, input: { memberId: string; groupInstanceId: string | null; generation: number }, ctx: StepContext): SyncOutcome {
  const { nowMs, logger } = ctx;
  const fail = (error: ErrorCodeName): SyncOutcome => ({ step: result(group), error, assignment: [], revoked: [] });
  const error = checkMember(group, input.memberId, input.groupInstanceId, input.generation);
  if (error !== null) return fail(error);
  if (group.state === 'PreparingRebalance') return fail('REBALANCE_IN_PROGRESS');
  const member = group.members.get(input.memberId)!;
  const members = new Map(group.members);
  members.set(member.memberId, { ...member, synced: true, lastSeenMs: nowMs });
  let g = withMembers(group, members);
  let persistGroup = false;
  if (g.state === 'CompletingRebalance' && [...members.values()].every((m) => m.synced)) {
    g = transition(g, 'Stable', nowMs, logger);
    if (g.followUpRebalance) {
      // Cooperative: withheld partitions reach their new owners in the next generation, once revoked.
      g = prepareRebalance({ ...g, followUpRebalance: false }, nowMs, logger);
    }
    persistGroup = true;
  }
  return {
    step: result(g, { persistGroup }), error: null,
    assignment: group.assignment.get(input.memberId) ?? [], revoked: group.revoked.get(input.memberId) ?? [],
  };
}

/** Heartbeat: keeps the session alive; tells the member to rejoin while a rebalance is under way. */
export function heartbeat(group: Group, input: { memberId: string; groupInstanceId: string | null; generation: number }, nowMs: number): { group: Group; error: ErrorCodeName | null } {
  const error = checkMember(group, input.memberId, input.groupInstanceId, input.generation);
  if (error === 'ILLEGAL_GENERATION' && group.state === 'PreparingRebalance') {
    return { group: touch(group, input.memberId, nowMs), error: 'REBALANCE_IN_PROGRESS' };
  }
  if (error !== null) return { group, error };
  const g = touch(group, input.memberId, nowMs);
  return { group: g, error: group.state === 'PreparingRebalance' ? 'REBALANCE_IN_PROGRESS' : null };
}

/** LeaveGroup (or a static member's instance id): the member goes and the others rebalance. */
export function leave(group: Group, input: { memberId: string; groupInstanceId: string | null }, ctx: StepContext): { step: StepResult; error: ErrorCodeName | null } {
  let memberId = input.memberId;
  if (input.groupInstanceId !== null) {
    const byInstance = [...group.members.values()].find((m) => m.groupInstanceId === input.groupInstanceId);
    if (byInstance === undefined) return { step: result(group), error: 'UNKNOWN_MEMBER_ID' };
    if (memberId !== '' && byInstance.memberId !== memberId) return { step: result(group), error: 'FENCED_INSTANCE_ID' };
    memberId = byInstance.memberId;
  }
  if (!group.members.has(memberId)) return { step: result(group), error: 'UNKNOWN_MEMBER_ID' };
  return { step: removeMembers(group, [memberId], ctx, 'left the group'), error: null };
}

function removeMembers(group: Group, ids: readonly string[], ctx: StepContext, why: string): StepResult {
  const { nowMs, logger } = ctx;
  const members = new Map(group.members);
  const replies: JoinReply[] = [];
  for (const id of ids) {
    const m = members.get(id);
    if (m === undefined) continue;
    if (m.pendingJoin !== null) replies.push(joinError(m.pendingJoin, id, 'UNKNOWN_MEMBER_ID'));
    members.delete(id);
    logger.info({ group: group.groupId, memberId: id }, `member removed: ${why}`);
  }
  let g = withMembers(group, members);
  const assignment = new Map(g.assignment);
  for (const id of ids) assignment.delete(id);
  g = { ...g, assignment };
  if (members.size === 0) {
    if (g.state === 'PreparingRebalance' || g.state === 'CompletingRebalance' || g.state === 'Stable') {
      g = { ...transition(g, 'Empty', nowMs, logger), generation: g.generation + 1, protocolName: null, leaderId: null, assignment: new Map(), revoked: new Map(), followUpRebalance: false };
    }
    return result(g, { replies, persistGroup: true });
  }
  if (g.state === 'Stable' || g.state === 'CompletingRebalance') g = prepareRebalance(g, nowMs, logger);
  const done = maybeCompleteJoin(g, ctx);
  return { ...done, replies: [...replies, ...done.replies], persistGroup: true };
}

/**
 * Time passes: members silent for their session timeout are removed (a parked join counts as alive), the
 * join phase ends at its deadline, and an Empty group's offsets expire after `offsetsRetentionMs`.
 */
export function tick(group: Group, offsetsRetentionMs: number, ctx: StepContext): StepResult {
  const { nowMs, logger } = ctx;
  const expired = [...group.members.values()].filter((m) => m.pendingJoin === null && nowMs - m.lastSeenMs > m.sessionTimeoutMs).map((m) => m.memberId);
  let step = expired.length > 0 ? removeMembers(group, expired, ctx, 'session timed out') : result(group);
  if (step.group.state === 'PreparingRebalance') {
    const done = maybeCompleteJoin(step.group, ctx);
    step = { ...done, replies: [...step.replies, ...done.replies], persistGroup: step.persistGroup || done.persistGroup };
  }
  const g = step.group;
  if (g.state === 'Empty' && g.offsets.size > 0 && nowMs - g.stateSinceMs >= offsetsRetentionMs) {
    // A partition with a transactional commit pending keeps its offset (Kafka's removeExpiredOffsets): its
    // marker may still make the pending one current, and the group lives on while anything is pending.
    const pending = pendingTxnPartitions(g);
    const removed = [...g.offsets.values()].filter((o) => !pending.has(offsetKey(o.topic, o.partition))).map((o) => ({ topic: o.topic, partition: o.partition }));
    if (removed.length === 0) return step;
    logger.info({ group: g.groupId, partitions: removed.length }, 'committed offsets expired (offsets.retention.minutes)');
    const offsets = new Map(g.offsets);
    for (const tp of removed) offsets.delete(offsetKey(tp.topic, tp.partition));
    if (offsets.size > 0 || g.pendingTxnOffsets.size > 0) return { ...step, group: { ...g, offsets }, removedOffsets: removed };
    return { ...step, group: transition({ ...g, offsets }, 'Dead', nowMs, logger), removedOffsets: removed, persistGroup: true };
  }
  return step;
}

// ---- offsets ----------------------------------------------------------------------------------------

export interface CommitInput {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly generation: number;
}

/**
 * Whether a commit may be written (checked before the append; `applyCommit` runs after it succeeds).
 * generation -1 with no member id: a simple consumer or tooling, accepted only while the group is Empty.
 */
export function validateCommit(group: Group, input: CommitInput): ErrorCodeName | null {
  if (group.state === 'Dead') return 'COORDINATOR_NOT_AVAILABLE';
  if (input.generation < 0 && input.memberId === '') {
    return group.state === 'Empty' ? null : 'REBALANCE_IN_PROGRESS';
  }
  const error = checkMember(group, input.memberId, input.groupInstanceId, input.generation);
  if (error !== null) return error;
  // The generation's assignment is not handed out yet: a commit now could be for partitions the member loses.
  if (group.state === 'CompletingRebalance') return 'REBALANCE_IN_PROGRESS';
  return null;
}

export function validateOffsetMetadata(metadata: string): ErrorCodeName | null {
  return Buffer.byteLength(metadata) > OFFSET_METADATA_MAX_BYTES ? 'INVALID_COMMIT_OFFSET_SIZE' : null;
}

/**
 * A plain commit written at `recordOffset` (the batch's base offset) becomes current, unless a commit
 * written later already is (two commits in flight may finish in either order; the log order decides, as on replay).
 */
export function applyCommit(group: Group, commits: readonly (TopicPartition & { offset: number; metadata: string })[], nowMs: number, memberId: string, recordOffset: number): Group {
  assert(Number.isSafeInteger(recordOffset) && recordOffset >= 0, `commit record offset ${recordOffset}`);
  const offsets = new Map(group.offsets);
  for (const c of commits) {
    assert(Number.isSafeInteger(c.offset) && c.offset >= 0, `commit offset ${c.offset}`);
    const key = offsetKey(c.topic, c.partition);
    const current = offsets.get(key);
    if (current !== undefined && current.recordOffset > recordOffset) continue;
    offsets.set(key, { topic: c.topic, partition: c.partition, offset: c.offset, metadata: c.metadata, commitTimestampMs: nowMs, recordOffset });
  }
  const g = { ...group, offsets };
  return memberId === '' ? g : touch(g, memberId, nowMs);
}

/** Deletes an Empty group and its offsets (DeleteGroups). */
export function deleteGroup(group: Group, ctx: StepContext): { step: StepResult; error: ErrorCodeName | null } {
  const { nowMs, logger } = ctx;
  if (group.state === 'Dead') return { step: result(group), error: 'GROUP_ID_NOT_FOUND' };
  if (group.state !== 'Empty') return { step: result(group), error: 'NON_EMPTY_GROUP' };
  // Pending transactional offsets keep the group: deleting it now would let the transaction's COMMIT
  // marker bring offsets back on the next load (the log still holds them), but not in memory.
  if (group.pendingTxnOffsets.size > 0) return { step: result(group), error: 'NON_EMPTY_GROUP' };
  const removed = [...group.offsets.values()].map((o) => ({ topic: o.topic, partition: o.partition }));
  return { step: result(transition({ ...group, offsets: new Map() }, 'Dead', nowMs, logger), { removedOffsets: removed, persistGroup: true }), error: null };
}

/** The `topic\0partition` keys with a transactional commit pending, of any producer. */
export function pendingTxnPartitions(group: Group): Set<string> {
  const keys = new Set<string>();
  for (const byPartition of group.pendingTxnOffsets.values()) for (const key of byPartition.keys()) keys.add(key);
  return keys;
}

export function sortedPartitions(tps: Iterable<TopicPartition>): TopicPartition[] {
  return [...tps].sort(compareTopicPartitions);
}

