// Partition assignors run by the group coordinator (DESIGN.md §5, consumer groups).
import type { AssignmentStrategy, PartitionAssignor } from './assignor.js';
import { cooperativeStickyAssignor } from './cooperative-sticky.js';
import { rangeAssignor } from './range.js';
import { roundRobinAssignor } from './round-robin.js';
import { stickyAssignor } from './sticky.js';

export type {
  AssignmentInput,
  AssignmentResult,
  AssignmentStrategy,
  AssignorMember,
  PartitionAssignor,
  RebalanceProtocol,
  TopicPartition,
} from './assignor.js';
export { ASSIGNOR_MEMBERS_MAX, ASSIGNOR_PARTITIONS_MAX, compareMembers, compareTopicPartitions } from './assignor.js';
export { cooperativeStickyAssignor, rangeAssignor, roundRobinAssignor, stickyAssignor };
export { stickyTarget } from './sticky.js';

/** Every strategy by its `partition.assignment.strategy` name. */
export const ASSIGNORS: Readonly<Record<AssignmentStrategy, PartitionAssignor>> = Object.freeze({
  range: rangeAssignor,
  roundrobin: roundRobinAssignor,
  sticky: stickyAssignor,
  'cooperative-sticky': cooperativeStickyAssignor,
});

/** The assignor for a strategy name, or null when the name is not one of ours. */
export function assignorFor(name: string): PartitionAssignor | null {
  return Object.hasOwn(ASSIGNORS, name) ? ASSIGNORS[name as AssignmentStrategy] : null;
}
