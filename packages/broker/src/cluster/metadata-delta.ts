// Pure conversion of the controller's metadata image into the broker's MetadataView types, and the
// difference between two images as what the replica manager must do about it.
import type { BasicImage, TopicState } from '@tributary/controller';
import type { BrokerNode, PartitionInfo, TopicInfo } from '../metadata-view.js';
import type { NodeRole } from '../node-config.js';

export function toTopicInfo(t: TopicState): TopicInfo {
  return {
    name: t.name, topicId: t.topicId, internal: t.internal, configs: t.configs,
    partitions: t.partitions.map((p) => ({
      topic: t.name, topicId: t.topicId, partition: p.partition, leader: p.leader, leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch, replicas: p.replicas, isr: p.isr,
    })),
  };
}

export function toBrokerNodes(image: BasicImage): BrokerNode[] {
  return [...image.brokers.values()].sort((a, b) => a.id - b.id).map((b) => ({
    nodeId: b.id, host: b.host, port: b.port, rack: b.rack, roles: b.roles.filter((r): r is NodeRole => r === 'broker' || r === 'controller'),
    fenced: b.fenced,
  }));
}

export interface MetadataDelta {
  /** Current states of partitions that are new or changed (leader, ISR, replicas, epochs). */
  readonly partitionStates: readonly PartitionInfo[];
  /** Partitions of topics that no longer exist. */
  readonly deleted: readonly { readonly topic: string; readonly partition: number }[];
  readonly createdTopics: readonly TopicInfo[];
  readonly deletedTopics: readonly TopicInfo[];
  /** Topics (still existing) whose config overrides changed. */
  readonly configsChanged: readonly TopicInfo[];
  readonly brokersChanged: boolean;
}

export function diffImages(before: BasicImage, after: BasicImage): MetadataDelta {
  const partitionStates: PartitionInfo[] = [];
  const deleted: { topic: string; partition: number }[] = [];
  const createdTopics: TopicInfo[] = [];
  const deletedTopics: TopicInfo[] = [];
  const configsChanged: TopicInfo[] = [];
  for (const [id, t] of after.topics) {
    const old = before.topics.get(id);
    if (old === t) continue;
    const info = toTopicInfo(t);
    if (old === undefined) createdTopics.push(info);
    else if (old.configs !== t.configs) configsChanged.push(info);
    info.partitions.forEach((p, i) => {
      if (old?.partitions[i] !== t.partitions[i]) partitionStates.push(p);
    });
  }
  for (const [id, t] of before.topics) {
    if (after.topics.has(id)) continue;
    const info = toTopicInfo(t);
    deletedTopics.push(info);
    for (const p of info.partitions) deleted.push({ topic: p.topic, partition: p.partition });
  }
  return { partitionStates, deleted, createdTopics, deletedTopics, configsChanged, brokersChanged: before.brokers !== after.brokers };
}
