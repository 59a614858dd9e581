// Pure decisions for topic admin commands: validate a request against the current metadata and
// produce the new topic/partition state. No I/O; topic ids are passed in. Used by the single-node
// store and, for validation and config changes, by the cluster metadata (the controller decides there).
import { ApiError } from './errors.js';
import type { NodeConfig } from './node-config.js';
import type { AlterConfigOp, CreateTopicCommand, MetadataView, PartitionInfo, TopicInfo } from './metadata-view.js';
import { randomInt } from 'node:crypto';
import { INTERNAL_TOPIC_NAMES, placeReplicas, topicCollisionKey, topicNameProblem } from '@tributary/controller';
import { isTopicConfigKey, validateTopicConfigOverrides, type TopicConfigOverrides } from './topic-config.js';

/** Upper bound on partitions per topic: each partition holds open files and timers on every replica. */
export const MAX_PARTITIONS_PER_TOPIC = 10_000;

export interface PlacementContext {
  readonly broker: NodeConfig;
  /** Unfenced brokers, in placement order. */
  readonly liveBrokerIds: readonly number[];
}

/** Kafka's topic name rules (the controller's): throws INVALID_TOPIC_EXCEPTION naming the rule broken. */
export function validateTopicName(name: string): void {
  const problem = topicNameProblem(name);
  if (problem !== undefined) throw new ApiError('INVALID_TOPIC_EXCEPTION', problem);
}

/** Validates a create request; returns the topic it would create (not yet stored). */
export function planCreateTopic(
  view: MetadataView,
  command: CreateTopicCommand,
  context: PlacementContext & { readonly topicId: string },
): TopicInfo {
  validateTopicName(command.name);
  if (view.topic(command.name) !== undefined) {
    throw new ApiError('TOPIC_ALREADY_EXISTS', `topic ${command.name} already exists`);
  }
  const key = topicCollisionKey(command.name);
  const collision = view.topics().find((t) => topicCollisionKey(t.name) === key);
  if (collision !== undefined) {
    throw new ApiError('INVALID_TOPIC_EXCEPTION', `topic ${command.name} collides with existing topic ${collision.name} ('.' and '_' are equivalent in metric names)`);
  }
  const numPartitions = command.numPartitions === -1 ? context.broker.numPartitions : command.numPartitions;
  validatePartitionCount(numPartitions);
  const replicationFactor = command.replicationFactor === -1 ? context.broker.defaultReplicationFactor : command.replicationFactor;
  validateReplicationFactor(replicationFactor, context.liveBrokerIds.length);
  const configs = validateTopicConfigOverrides(command.configs);
  const partitions = placePartitions({
    topic: command.name, topicId: context.topicId, firstPartition: 0, count: numPartitions,
    replicationFactor, liveBrokerIds: context.liveBrokerIds,
  });
  return { name: command.name, topicId: context.topicId, internal: INTERNAL_TOPIC_NAMES.has(command.name), partitions, configs };
}

function validatePartitionCount(count: number): void {
  if (!Number.isInteger(count) || count < 1) {
    throw new ApiError('INVALID_PARTITIONS', `number of partitions must be at least 1, got ${count}`);
  }
  if (count > MAX_PARTITIONS_PER_TOPIC) {
    throw new ApiError('INVALID_PARTITIONS', `number of partitions ${count} exceeds the maximum ${MAX_PARTITIONS_PER_TOPIC}`);
  }
}

function validateReplicationFactor(replicationFactor: number, liveBrokers: number): void {
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
    throw new ApiError('INVALID_REPLICATION_FACTOR', `replication factor must be at least 1, got ${replicationFactor}`);
  }
  if (replicationFactor > liveBrokers) {
    throw new ApiError('INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor} is larger than the ${liveBrokers} available broker(s)`);
  }
}

/**
 * Placement for the single-node store and for validate-only previews: the controller's placement
 * (one implementation, Kafka's round-robin with a random start; the first replica is the preferred
 * leader), turned into initial partition states (leader = first replica, ISR = replicas, epochs 0).
 */
export function placePartitions(args: {
  readonly topic: string;
  readonly topicId: string;
  readonly firstPartition: number;
  readonly count: number;
  readonly replicationFactor: number;
  readonly liveBrokerIds: readonly number[];
}): PartitionInfo[] {
  if (args.count === 0) return [];
  const assignments = placeReplicas({
    brokers: args.liveBrokerIds.map((brokerId) => ({ brokerId, rack: undefined })),
    partitions: args.count, replicationFactor: args.replicationFactor, firstPartition: args.firstPartition,
    random: { intn: (n) => randomInt(n) },
  });
  return assignments.map((replicas, i) => ({
    topic: args.topic, topicId: args.topicId, partition: args.firstPartition + i,
    leader: replicas[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0, replicas, isr: replicas,
  }));
}

/** The partitions CreatePartitions would add to reach `totalCount` (grow only). */
export function planCreatePartitions(topic: TopicInfo, totalCount: number, liveBrokerIds: readonly number[]): PartitionInfo[] {
  const current = topic.partitions.length;
  if (!Number.isInteger(totalCount) || totalCount <= current) {
    throw new ApiError('INVALID_PARTITIONS', `topic ${topic.name} has ${current} partitions; the new count ${totalCount} must be larger (partitions can only grow)`);
  }
  validatePartitionCount(totalCount);
  const replicationFactor = topic.partitions[0]?.replicas.length ?? 1;
  validateReplicationFactor(replicationFactor, liveBrokerIds.length);
  return placePartitions({
    topic: topic.name, topicId: topic.topicId, firstPartition: current, count: totalCount - current,
    replicationFactor, liveBrokerIds,
  });
}

/** Applies SET/DELETE ops to a topic's overrides; throws INVALID_CONFIG naming the bad key. */
export function planAlterConfigs(topic: TopicInfo, ops: readonly AlterConfigOp[]): TopicConfigOverrides {
  const next: Record<string, string> = { ...topic.configs };
  const sets: Record<string, string> = {};
  for (const op of ops) {
    if (op.op === 'DELETE') {
      if (!isTopicConfigKey(op.name)) throw new ApiError('INVALID_CONFIG', `unknown topic config ${JSON.stringify(op.name)}`);
      delete next[op.name];
    } else {
      sets[op.name] = op.value;
    }
  }
  return { ...next, ...validateTopicConfigOverrides(sets) };
}
