// Kafka's RoundRobinAssignor: all subscribed partitions, sorted by topic then partition, are dealt one
// at a time to the members in member order (circularly), skipping members not subscribed to the
// partition's topic. With identical subscriptions the counts differ by at most one.
import {
  type AssignmentInput,
  type AssignmentResult,
  type PartitionAssignor,
  type TopicPartition,
  checkInput,
  compareMembers,
  eagerResult,
  subscribedPartitions,
  subscribedTopics,
} from './assignor.js';

export const roundRobinAssignor: PartitionAssignor = {
  name: 'roundrobin',
  protocol: 'eager',
  assign(input: AssignmentInput): AssignmentResult {
    checkInput(input);
    const assignment = new Map<string, TopicPartition[]>(input.members.map((m) => [m.memberId, []]));
    const members = [...input.members].sort(compareMembers).map((m) => ({ memberId: m.memberId, topics: new Set(subscribedTopics(m, input.partitionCounts)) }));
    let cursor = 0;
    for (const tp of subscribedPartitions(input)) {
      // Some member subscribes to tp.topic (subscribedPartitions only lists such topics), so this ends
      // within one lap.
      while (!members[cursor % members.length]!.topics.has(tp.topic)) cursor++;
      assignment.get(members[cursor % members.length]!.memberId)!.push(tp);
      cursor++;
    }
    return eagerResult(input, assignment);
  },
};
