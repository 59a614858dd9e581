// Kafka's StickyAssignor semantics: a balanced assignment (members with identical subscriptions own
// counts that differ by at most one; in general no partition can move from a member to an eligible one
// holding two or more fewer) that keeps as many previously owned partitions as it can.
//
// Algorithm (deterministic, O(passes × partitions × members)):
//   1. Claims: a member keeps an owned partition that still exists and that it still subscribes to. When
//      several members claim one partition the highest generation wins (a lower one is a zombie's
//      leftover); equal generations cancel each other and the partition counts as unowned.
//   2. Unowned partitions, most constrained first (fewest eligible members), go to the eligible member
//      owning the fewest (ties: member order).
//   3. Balance: while some partition sits on a member that owns at least two more than the least loaded
//      member eligible for it, move it there, taking from the most loaded member first. Each move lowers
//      the sum of squared counts, so this ends; with identical subscriptions only over-full members give
//      partitions up, so every kept partition is one a balanced result could keep.
import {
  type AssignmentInput,
  type AssignmentResult,
  type PartitionAssignor,
  type TopicPartition,
  checkInput,
  compareMembers,
  compareTopicPartitions,
  eagerResult,
  partitionKey,
  subscribedPartitions,
  subscribedTopics,
} from './assignor.js';

export const stickyAssignor: PartitionAssignor = {
  name: 'sticky',
  protocol: 'eager',
  assign(input: AssignmentInput): AssignmentResult {
    checkInput(input);
    return eagerResult(input, stickyTarget(input));
  },
};

interface Claim {
  memberId: string | null;
  generation: number;
}

/** The balanced, sticky assignment for `input` (every input member has an entry). Input must be checked. */
export function stickyTarget(input: AssignmentInput): Map<string, TopicPartition[]> {
  const members = [...input.members].sort(compareMembers);
  const rank = new Map(members.map((m, i) => [m.memberId, i]));
  const topicsOf = new Map(members.map((m) => [m.memberId, new Set(subscribedTopics(m, input.partitionCounts))]));
  const eligibleByTopic = new Map<string, string[]>();
  for (const member of members) {
    for (const topic of topicsOf.get(member.memberId)!) {
      const list = eligibleByTopic.get(topic) ?? [];
      list.push(member.memberId);
      eligibleByTopic.set(topic, list);
    }
  }

  // 1. Resolve claims.
  const claims = new Map<string, Claim>();
  for (const member of members) {
    const seen = new Set<string>();
    for (const tp of member.ownedPartitions) {
      const key = partitionKey(tp);
      const count = input.partitionCounts.get(tp.topic);
      if (seen.has(key) || count === undefined || !(tp.partition >= 0 && tp.partition < count)) continue;
      if (!topicsOf.get(member.memberId)!.has(tp.topic)) continue;
      seen.add(key);
      const existing = claims.get(key);
      if (existing === undefined || member.generation > existing.generation) {
        claims.set(key, { memberId: member.memberId, generation: member.generation });
      } else if (member.generation === existing.generation) {
        existing.memberId = null;
      }
    }
  }

  const owned = new Map<string, Map<string, TopicPartition>>(members.map((m) => [m.memberId, new Map()]));
  const unowned: TopicPartition[] = [];
  for (const tp of subscribedPartitions(input)) {
    const owner = claims.get(partitionKey(tp))?.memberId ?? null;
    if (owner === null) unowned.push(tp);
    else owned.get(owner)!.set(partitionKey(tp), tp);
  }
  const count = (memberId: string): number => owned.get(memberId)!.size;
  const leastLoaded = (topic: string): string => {
    let best: string | null = null;
    for (const memberId of eligibleByTopic.get(topic)!) {
      if (best === null || count(memberId) < count(best)) best = memberId;
    }
    return best!;
  };

  /** The next balancing move: most loaded member first, its highest partition first; null when balanced. */
  const findMove = (): { from: string; to: string; tp: TopicPartition } | null => {
    const byLoad = [...members].sort((a, b) => count(b.memberId) - count(a.memberId) || rank.get(a.memberId)! - rank.get(b.memberId)!);
    for (const from of byLoad) {
      const partitions = [...owned.get(from.memberId)!.values()].sort(compareTopicPartitions).reverse();
      for (const tp of partitions) {
        const to = leastLoaded(tp.topic);
        if (count(to) < count(from.memberId) - 1) return { from: from.memberId, to, tp };
      }
    }
    return null;
  };

  // 2. Place unowned partitions, most constrained first.
  unowned.sort((a, b) => eligibleByTopic.get(a.topic)!.length - eligibleByTopic.get(b.topic)!.length || compareTopicPartitions(a, b));
  for (const tp of unowned) owned.get(leastLoaded(tp.topic))!.set(partitionKey(tp), tp);

  // 3. Balance: one move at a time, always from the most loaded member that has a movable partition, so
  // no member gives up more than balance demands (moving from a less loaded one first can overshoot).
  for (;;) {
    const move = findMove();
    if (move === null) break;
    owned.get(move.from)!.delete(partitionKey(move.tp));
    owned.get(move.to)!.set(partitionKey(move.tp), move.tp);
  }

  return new Map(members.map((m) => [m.memberId, [...owned.get(m.memberId)!.values()].sort(compareTopicPartitions)]));
}
