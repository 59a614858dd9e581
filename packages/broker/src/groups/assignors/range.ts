// Kafka's RangeAssignor: per topic, the subscribed members (in member order) get contiguous ranges of
// partitions; with n partitions and m members each gets floor(n/m) and the first n mod m get one more.
// Partition i of every co-subscribed topic goes to the same member, which is what joins across
// co-partitioned topics rely on (and why range is unbalanced over many topics).
import {
  type AssignmentInput,
  type AssignmentResult,
  type PartitionAssignor,
  type TopicPartition,
  checkInput,
  compareMembers,
  eagerResult,
  subscribedTopics,
} from './assignor.js';

export const rangeAssignor: PartitionAssignor = {
  name: 'range',
  protocol: 'eager',
  assign(input: AssignmentInput): AssignmentResult {
    checkInput(input);
    const assignment = new Map<string, TopicPartition[]>(input.members.map((m) => [m.memberId, []]));
    const membersByTopic = new Map<string, string[]>();
    for (const member of [...input.members].sort(compareMembers)) {
      for (const topic of subscribedTopics(member, input.partitionCounts)) {
        const list = membersByTopic.get(topic) ?? [];
        list.push(member.memberId);
        membersByTopic.set(topic, list);
      }
    }
    for (const [topic, memberIds] of membersByTopic) {
      const count = input.partitionCounts.get(topic)!;
      const perMember = Math.floor(count / memberIds.length);
      const extra = count % memberIds.length;
      let next = 0;
      memberIds.forEach((memberId, i) => {
        const take = perMember + (i < extra ? 1 : 0);
        const owned = assignment.get(memberId)!;
        for (let p = next; p < next + take; p++) owned.push({ topic, partition: p });
        next += take;
      });
    }
    return eagerResult(input, assignment);
  },
};
