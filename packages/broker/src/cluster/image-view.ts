// The controller's MetadataImage read as the broker's MetadataView types, and a change between two
// images as what this broker's replica manager must do (the controller's diffImages/localChanges).
import { diffImages, localChanges, type MetadataImage, type PartitionImage, type TopicImage } from '@tributary/controller/metadata';
import type { BrokerNode, PartitionInfo, TopicInfo } from '../metadata-view.js';
import type { NodeRole } from '../node-config.js';
import type { DeletedPartition } from '../replica-manager.js';

export function toPartitionInfo(t: TopicImage, p: PartitionImage): PartitionInfo {
  return {
    topic: t.name, topicId: t.topicId, partition: p.partition, leader: p.leader, leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch, replicas: p.replicas, isr: p.isr, offlineReplicas: p.offlineReplicas,
  };
}

export function toTopicInfo(image: MetadataImage, t: TopicImage): TopicInfo {
  return {
    name: t.name, topicId: t.topicId, internal: t.internal,
    configs: Object.fromEntries(image.topicConfigs.get(t.name) ?? []),
    partitions: t.partitions.map((p) => toPartitionInfo(t, p)),
  };
}

export function toBrokerNodes(image: MetadataImage): BrokerNode[] {
  return [...image.brokers.values()].sort((a, b) => a.brokerId - b.brokerId).map((b) => ({
    nodeId: b.brokerId, host: b.endpoint.host, port: b.endpoint.port, rack: b.rack,
    roles: b.roles.filter((r): r is NodeRole => r === 'broker' || r === 'controller'), fenced: b.fenced, brokerEpoch: b.brokerEpoch,
  }));
}

export interface ReplicaChanges {
  /** New states of partitions this broker hosts: it now leads them, or their leader changed. */
  readonly partitionStates: readonly PartitionInfo[];
  /** Replicas this broker no longer hosts (reassigned away, or the topic was deleted). */
  readonly deleted: readonly DeletedPartition[];
  /** Topics (existing before and after) whose config overrides changed. */
  readonly configsChanged: readonly TopicInfo[];
}

/** What broker `brokerId` has to do to go from `before` to `after` (any two images: batches or a snapshot). */
export function replicaChanges(before: MetadataImage, after: MetadataImage, brokerId: number): ReplicaChanges {
  const diff = diffImages(before, after);
  const local = localChanges(diff, brokerId);
  return {
    partitionStates: [...local.leaders, ...local.followers].map((d) => toPartitionInfo(d.topic, d.after)),
    deleted: local.removed.map((r) => ({ topic: r.topic.name, partition: r.partition.partition })),
    configsChanged: diff.changedTopicConfigs.map((name) => toTopicInfo(after, after.topicsById.get(after.topicIdsByName.get(name)!)!)),
  };
}
