// Offsets in transactions (KIP-98, KIP-447), pure. A TxnOffsetCommit writes its offsets to the group's
// `__consumer_offsets` partition as a transactional batch of the producer; until that producer's control
// batch (marker) follows it in the same partition the offsets are PENDING for (group, producer id):
// OffsetFetch does not show them, and with require_stable answers UNSTABLE_OFFSET_COMMIT for their
// partitions. A COMMIT marker makes them current (each only if no plain commit written after it already
// is: Kafka's completePendingTxnOffsetCommit); an ABORT marker drops them.
//
// The same functions serve the live path (the coordinator applies its own appends and the marker
// listener) and the load path (replaying the partition from its start), so both reach the same state:
// a marker at offset M completes exactly the producer's pending commits written before M. Commits of
// that producer written after M belong to its next transaction and stay pending.
import { assert, type ErrorCodeName } from '../errors.js';
import type { TopicPartition } from './assignors/index.js';
import { offsetKey, type Group } from './group.js';

/** The groups of one `__consumer_offsets` partition, with an index of who has pending commits. */
export interface OffsetsShardState {
  readonly groups: Map<string, Group>;
  /** Producer id → the groups holding pending transactional offsets of it (kept exact by this module). */
  readonly txnGroups: Map<number, Set<string>>;
}

export interface TxnMarker {
  readonly producerId: number;
  readonly committed: boolean;
  /** Offset of the control batch in the offsets partition. */
  readonly offset: number;
}

export interface TxnCommitMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** -1: not checked. */
  readonly generation: number;
}

/**
 * KIP-447 fencing of a TxnOffsetCommit by the consumer's group metadata. With a member id, instance id
 * or generation (≥ 0) given, they must name a current member of the current generation:
 * FENCED_INSTANCE_ID (the static instance id belongs to another member id), UNKNOWN_MEMBER_ID,
 * ILLEGAL_GENERATION. A generation of -1 is not checked (a member id given still is). None given (a
 * producer committing for a group it is not a member of): accepted only while the group has no members
 * (ILLEGAL_GENERATION otherwise; Kafka accepts it in any state). Unlike
 * OffsetCommit, CompletingRebalance is no reason to refuse: the transaction is fenced by its generation.
 */
export function validateTxnCommit(group: Group, input: TxnCommitMember): ErrorCodeName | null {
  if (group.state === 'Dead') return 'COORDINATOR_NOT_AVAILABLE';
  // Anonymous (no member, no generation): only for a group no member manages. A member that lost its
  // identity (its session expired while it was stopped) must not commit the offsets of partitions that
  // moved to others: their transactions read from the last stable commit, so both would commit the same
  // inputs (seen in the txn chaos smoke as duplicated outputs). Kafka accepts it; we refuse it.
  if (input.generation < 0 && input.memberId === '' && input.groupInstanceId === null) return group.members.size === 0 ? null : 'ILLEGAL_GENERATION';
  if (input.groupInstanceId !== null) {
    const holder = [...group.members.values()].find((m) => m.groupInstanceId === input.groupInstanceId);
    if (holder !== undefined && holder.memberId !== input.memberId) return 'FENCED_INSTANCE_ID';
  }
  if (input.memberId !== '') {
    const member = group.members.get(input.memberId);
    if (member === undefined) return 'UNKNOWN_MEMBER_ID';
    if (input.groupInstanceId !== null && member.groupInstanceId !== input.groupInstanceId) return 'FENCED_INSTANCE_ID';
  }
  if (input.generation >= 0 && input.generation !== group.generation) return 'ILLEGAL_GENERATION';
  return null;
}

/**
 * Records the offsets of one transactional batch written at `recordOffset` (its base offset) as pending
 * for `producerId` in `groupId` (creating an Empty group if there is none). A later write of the same
 * partition by the same producer replaces the earlier one (one transaction, last write wins).
 */
export function stageTxnOffsets(
  state: OffsetsShardState, groupId: string, newGroup: () => Group, producerId: number,
  commits: readonly (TopicPartition & { readonly offset: number; readonly metadata: string })[],
  recordOffset: number, commitTimestampMs: number,
): void {
  assert(Number.isSafeInteger(producerId) && producerId >= 0, `transactional commit of producer id ${producerId}`);
  assert(Number.isSafeInteger(recordOffset) && recordOffset >= 0, `transactional commit at record offset ${recordOffset}`);
  if (commits.length === 0) return;
  const group = state.groups.get(groupId) ?? newGroup();
  assert(group.state !== 'Dead', `group ${groupId}: transactional offsets staged on a Dead group`);
  const pendingTxnOffsets = new Map(group.pendingTxnOffsets);
  const mine = new Map(pendingTxnOffsets.get(producerId) ?? []);
  for (const c of commits) {
    assert(Number.isSafeInteger(c.offset) && c.offset >= 0, `transactional commit offset ${c.offset}`);
    mine.set(offsetKey(c.topic, c.partition), { topic: c.topic, partition: c.partition, offset: c.offset, metadata: c.metadata, commitTimestampMs, recordOffset });
  }
  pendingTxnOffsets.set(producerId, mine);
  state.groups.set(groupId, { ...group, pendingTxnOffsets });
  let groups = state.txnGroups.get(producerId);
  if (groups === undefined) state.txnGroups.set(producerId, (groups = new Set()));
  groups.add(groupId);
}

/**
 * Applies a marker of `marker.producerId` at `marker.offset` to every group of the shard: its pending
 * commits written before the marker become current (COMMIT, each only if newer than the current one) or
 * are dropped (ABORT). Idempotent: applying the same marker twice changes nothing the second time.
 * Returns the groups changed.
 */
export function completeTxn(state: OffsetsShardState, marker: TxnMarker): string[] {
  const groupIds = state.txnGroups.get(marker.producerId);
  if (groupIds === undefined) return [];
  const changed: string[] = [];
  for (const groupId of [...groupIds]) {
    const group = state.groups.get(groupId);
    assert(group !== undefined, `txn index names group ${groupId} (producer ${marker.producerId}), which the shard does not have`);
    const mine = group.pendingTxnOffsets.get(marker.producerId);
    assert(mine !== undefined && mine.size > 0, `txn index names group ${groupId} without pending offsets of producer ${marker.producerId}`);
    const decided = [...mine.entries()].filter(([, p]) => p.recordOffset < marker.offset);
    if (decided.length === 0) continue;
    const offsets = new Map(group.offsets);
    if (marker.committed) {
      for (const [key, p] of decided) {
        const current = offsets.get(key);
        if (current === undefined || current.recordOffset < p.recordOffset) offsets.set(key, p);
      }
    }
    const rest = new Map(mine);
    for (const [key] of decided) rest.delete(key);
    const pendingTxnOffsets = new Map(group.pendingTxnOffsets);
    if (rest.size === 0) {
      pendingTxnOffsets.delete(marker.producerId);
      groupIds.delete(groupId);
    } else pendingTxnOffsets.set(marker.producerId, rest);
    const next: Group = { ...group, offsets, pendingTxnOffsets };
    // A group that only a transaction created (never joined, nothing committed) goes with it, so
    // aborted commits to made-up group ids leave nothing behind.
    if (next.state === 'Empty' && next.generation === 0 && next.members.size === 0 && offsets.size === 0 && pendingTxnOffsets.size === 0) state.groups.delete(groupId);
    else state.groups.set(groupId, next);
    changed.push(groupId);
  }
  if (groupIds.size === 0) state.txnGroups.delete(marker.producerId);
  return changed;
}

/** Whether `topic-partition` of the group has a transactional commit pending (of any producer). */
export function hasPendingTxnOffset(group: Group, tp: TopicPartition): boolean {
  const key = offsetKey(tp.topic, tp.partition);
  for (const byPartition of group.pendingTxnOffsets.values()) if (byPartition.has(key)) return true;
  return false;
}

/** Asserts the index and the groups agree (tests and the end of a load). */
export function checkTxnIndex(state: OffsetsShardState): void {
  for (const [groupId, group] of state.groups) {
    for (const [producerId, byPartition] of group.pendingTxnOffsets) {
      assert(byPartition.size > 0, `group ${groupId}: empty pending map of producer ${producerId}`);
      assert(state.txnGroups.get(producerId)?.has(groupId) === true, `group ${groupId}: pending offsets of producer ${producerId} missing from the txn index`);
    }
  }
  for (const [producerId, groupIds] of state.txnGroups) {
    assert(groupIds.size > 0, `txn index: empty group set of producer ${producerId}`);
    for (const groupId of groupIds) {
      assert(state.groups.get(groupId)?.pendingTxnOffsets.has(producerId) === true, `txn index: group ${groupId} has no pending offsets of producer ${producerId}`);
    }
  }
}

