// The contract every partition assignor implements, and the helpers they share. Assignors are pure:
// the group coordinator (which runs them, so clients in any language stay thin) hands in the members'
// subscriptions and what they own now, and gets back who owns what after this rebalance. No clocks,
// randomness or I/O; the same input always gives the same output.
import assert from 'node:assert/strict';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export type AssignmentStrategy = 'range' | 'roundrobin' | 'sticky' | 'cooperative-sticky';

/**
 * `eager`: every member gives up everything before it rejoins (the coordinator tells it to revoke all).
 * `cooperative`: members keep what they own across the rebalance and give up only what `revoked` names;
 * a moving partition reaches its new owner one rebalance later (incremental rebalance, KIP-429).
 */
export type RebalanceProtocol = 'eager' | 'cooperative';

export interface AssignorMember {
  readonly memberId: string;
  /** Static membership (`group.instance.id`): orders members stably across restarts. */
  readonly groupInstanceId?: string | null;
  /** Subscribed topic names. Topics missing from `partitionCounts` (not created yet) are ignored. */
  readonly topics: readonly string[];
  /** What the member reports it owns now (empty for new members and under the eager protocol). */
  readonly ownedPartitions: readonly TopicPartition[];
  /**
   * Generation in which the member last got `ownedPartitions`; -1 when unknown. When two members
   * claim one partition the claim of the higher generation wins (the other is a zombie's).
   */
  readonly generation: number;
}

export interface AssignmentInput {
  /** Members of the group; member ids are unique. */
  readonly members: readonly AssignorMember[];
  /** Partition count per existing topic (partitions 0..n-1). */
  readonly partitionCounts: ReadonlyMap<string, number>;
}

export interface AssignmentResult {
  /** What each member may own once this rebalance completes; every input member has an entry, sorted. */
  readonly assignment: ReadonlyMap<string, readonly TopicPartition[]>;
  /** What each member must give up: ownedPartitions minus its assignment (members with nothing to revoke are absent). */
  readonly revoked: ReadonlyMap<string, readonly TopicPartition[]>;
  /**
   * The balanced assignment the strategy aims at. Equal to `assignment` for eager strategies; for
   * cooperative-sticky it also holds partitions withheld this round because another member still owns them.
   */
  readonly target: ReadonlyMap<string, readonly TopicPartition[]>;
  /** Some partition was withheld this round: the coordinator must start another rebalance once revocations are done. */
  readonly followUpRebalance: boolean;
}

export interface PartitionAssignor {
  readonly name: AssignmentStrategy;
  readonly protocol: RebalanceProtocol;
  assign(input: AssignmentInput): AssignmentResult;
}

/** Largest group an assignor accepts (Kafka's default group.max.size is unbounded; this bounds the work). */
export const ASSIGNOR_MEMBERS_MAX = 10_000;
/** Largest number of partitions over all subscribed topics an assignor accepts. */
export const ASSIGNOR_PARTITIONS_MAX = 1_000_000;

export function partitionKey(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

/** Topic name, then partition number; code-unit order so every node sorts alike. */
export function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition;
}

/**
 * Kafka's member order (AbstractPartitionAssignor.MemberInfo): static members by group.instance.id first,
 * then dynamic members by member id. A restarted static member gets a new member id but keeps its place,
 * so range and roundrobin hand it the same partitions.
 */
export function compareMembers(a: AssignorMember, b: AssignorMember): number {
  const ai = a.groupInstanceId ?? null;
  const bi = b.groupInstanceId ?? null;
  if (ai !== null && bi !== null && ai !== bi) return ai < bi ? -1 : 1;
  if (ai !== null && bi === null) return -1;
  if (ai === null && bi !== null) return 1;
  return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
}

/** Asserts the input is well formed; the coordinator builds it, so a bad one is a bug there. */
export function checkInput(input: AssignmentInput): void {
  assert.ok(input.members.length <= ASSIGNOR_MEMBERS_MAX, `${input.members.length} members exceed ${ASSIGNOR_MEMBERS_MAX}`);
  const ids = new Set<string>();
  for (const member of input.members) {
    assert.ok(!ids.has(member.memberId), `duplicate member id ${member.memberId}`);
    ids.add(member.memberId);
    assert.ok(Number.isInteger(member.generation) && member.generation >= -1, `member ${member.memberId}: generation ${member.generation}`);
  }
  let total = 0;
  for (const [topic, count] of input.partitionCounts) {
    assert.ok(Number.isInteger(count) && count >= 0, `topic ${topic}: partition count ${count}`);
    total += count;
  }
  assert.ok(total <= ASSIGNOR_PARTITIONS_MAX, `${total} partitions exceed ${ASSIGNOR_PARTITIONS_MAX}`);
}

/** The member's subscribed topics that exist, deduplicated and sorted. */
export function subscribedTopics(member: AssignorMember, partitionCounts: ReadonlyMap<string, number>): string[] {
  return [...new Set(member.topics)].filter((t) => partitionCounts.has(t)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every partition of every topic some member subscribes to, sorted. */
export function subscribedPartitions(input: AssignmentInput): TopicPartition[] {
  const topics = new Set<string>();
  for (const member of input.members) for (const topic of subscribedTopics(member, input.partitionCounts)) topics.add(topic);
  const out: TopicPartition[] = [];
  for (const topic of [...topics].sort((a, b) => (a < b ? -1 : 1))) {
    const count = input.partitionCounts.get(topic)!;
    for (let partition = 0; partition < count; partition++) out.push({ topic, partition });
  }
  return out;
}

/** Builds the result of an eager strategy: revoked = owned - assignment, target = assignment. */
export function eagerResult(input: AssignmentInput, assignment: Map<string, TopicPartition[]>): AssignmentResult {
  const sorted = sortAssignment(input, assignment);
  return { assignment: sorted, target: sorted, revoked: revocations(input, sorted), followUpRebalance: false };
}

/** Every input member gets an entry; lists sorted by topic then partition. */
export function sortAssignment(input: AssignmentInput, assignment: ReadonlyMap<string, readonly TopicPartition[]>): Map<string, TopicPartition[]> {
  const out = new Map<string, TopicPartition[]>();
  for (const member of input.members) out.set(member.memberId, [...(assignment.get(member.memberId) ?? [])].sort(compareTopicPartitions));
  return out;
}

export function revocations(input: AssignmentInput, assignment: ReadonlyMap<string, readonly TopicPartition[]>): Map<string, TopicPartition[]> {
  const revoked = new Map<string, TopicPartition[]>();
  for (const member of input.members) {
    const kept = new Set((assignment.get(member.memberId) ?? []).map(partitionKey));
    const seen = new Set<string>();
    const lost = member.ownedPartitions.filter((tp) => {
      const key = partitionKey(tp);
      if (kept.has(key) || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (lost.length > 0) revoked.set(member.memberId, lost.sort(compareTopicPartitions));
  }
  return revoked;
}
