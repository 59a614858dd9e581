// Kafka's CooperativeStickyAssignor: the sticky target, handed out under the cooperative protocol.
// A partition whose target owner is a member that does not own it yet, while another member still
// claims it, is withheld this round: the claimant revokes it now (it is in its `revoked`), and the new
// owner gets it in the follow-up rebalance, once nobody claims it. So a partition is never owned by two
// members at once, and partitions that stay put are never revoked.
import {
  type AssignmentInput,
  type AssignmentResult,
  type PartitionAssignor,
  type TopicPartition,
  checkInput,
  partitionKey,
  revocations,
  sortAssignment,
} from './assignor.js';
import { stickyTarget } from './sticky.js';

export const cooperativeStickyAssignor: PartitionAssignor = {
  name: 'cooperative-sticky',
  protocol: 'cooperative',
  assign(input: AssignmentInput): AssignmentResult {
    checkInput(input);
    const target = sortAssignment(input, stickyTarget(input));
    // Every claim counts here, valid or not (a zombie's or a conflicting one too): handing a claimed
    // partition to a new owner before the claimant revoked it would let both consume it.
    const claimants = new Map<string, Set<string>>();
    for (const member of input.members) {
      for (const tp of member.ownedPartitions) {
        const key = partitionKey(tp);
        const set = claimants.get(key) ?? new Set<string>();
        set.add(member.memberId);
        claimants.set(key, set);
      }
    }
    let followUpRebalance = false;
    const assignment = new Map<string, TopicPartition[]>();
    for (const [memberId, partitions] of target) {
      assignment.set(
        memberId,
        partitions.filter((tp) => {
          const claimedBy = claimants.get(partitionKey(tp));
          const free = claimedBy === undefined || claimedBy.has(memberId);
          if (!free) followUpRebalance = true;
          return free;
        }),
      );
    }
    return { assignment, target, revoked: revocations(input, assignment), followUpRebalance };
  },
};
