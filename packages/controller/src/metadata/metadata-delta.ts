// diffImages: what changed between two images, in the terms a broker reconciles by (Kafka's
// MetadataDelta / TopicsDelta.localChanges): topics created and deleted, partitions whose state
// changed, and — for one broker — which partitions it now leads, follows, or no longer hosts.
import type { BrokerImage, MetadataImage, PartitionImage, TopicImage } from './metadata-image.js';

export interface PartitionDelta {
  readonly topic: TopicImage;
  /** undefined = new partition. */
  readonly before: PartitionImage | undefined;
  readonly after: PartitionImage;
}

export interface MetadataDiff {
  readonly fromOffset: number;
  readonly toOffset: number;
  readonly createdTopics: readonly TopicImage[];
  /** As they were in `prev`. */
  readonly deletedTopics: readonly TopicImage[];
  /** New partitions (including those of created topics) and partitions whose state changed. */
  readonly changedPartitions: readonly PartitionDelta[];
  /** Topics whose config overrides changed (by name; created and deleted topics excluded). */
  readonly changedTopicConfigs: readonly string[];
  readonly brokersChanged: boolean;
  readonly clusterConfigsChanged: boolean;
  readonly brokerConfigsChanged: boolean;
}

/** What one broker has to do to follow a diff. */
export interface LocalChanges {
  /** Partitions this broker leads after the change whose state changed (new, new leader epoch, ISR change). */
  readonly leaders: readonly PartitionDelta[];
  /** Partitions this broker is a non-leading replica of whose leader or leader epoch changed (or new). */
  readonly followers: readonly PartitionDelta[];
  /** Replicas this broker no longer hosts: reassigned away, or their topic deleted. */
  readonly removed: readonly { readonly topic: TopicImage; readonly partition: PartitionImage }[];
}

function samePartition(a: PartitionImage, b: PartitionImage): boolean {
  return a.partitionEpoch === b.partitionEpoch && a.leaderEpoch === b.leaderEpoch && a.leader === b.leader && a.recovering === b.recovering;
}

export function diffImages(prev: MetadataImage, next: MetadataImage): MetadataDiff {
  const createdTopics: TopicImage[] = [];
  const deletedTopics: TopicImage[] = [];
  const changedPartitions: PartitionDelta[] = [];
  const changedTopicConfigs: string[] = [];
  if (prev.topicsById !== next.topicsById) {
    for (const [id, topic] of next.topicsById) {
      const old = prev.topicsById.get(id);
      if (old === undefined) createdTopics.push(topic);
      if (old === topic) continue;
      topic.partitions.forEach((p, i) => {
        const before = old?.partitions[i];
        if (before === undefined || (before !== p && !samePartition(before, p))) changedPartitions.push({ topic, before, after: p });
      });
    }
    for (const [id, topic] of prev.topicsById) if (!next.topicsById.has(id)) deletedTopics.push(topic);
  }
  if (prev.topicConfigs !== next.topicConfigs) {
    for (const [name, id] of next.topicIdsByName) {
      if (prev.topicIdsByName.get(name) !== id) continue;
      if (!sameConfig(prev.topicConfigs.get(name), next.topicConfigs.get(name))) changedTopicConfigs.push(name);
    }
  }
  return {
    fromOffset: prev.offset, toOffset: next.offset, createdTopics, deletedTopics, changedPartitions, changedTopicConfigs,
    brokersChanged: !sameBrokers(prev.brokers, next.brokers),
    clusterConfigsChanged: !sameConfig(prev.clusterConfigs, next.clusterConfigs),
    brokerConfigsChanged: prev.brokerConfigs !== next.brokerConfigs,
  };
}

function sameConfig(a: ReadonlyMap<string, string> | undefined, b: ReadonlyMap<string, string> | undefined): boolean {
  if (a === b) return true;
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const [k, v] of a ?? []) if (b?.get(k) !== v) return false;
  return true;
}

function sameBrokers(a: ReadonlyMap<number, BrokerImage>, b: ReadonlyMap<number, BrokerImage>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [id, x] of a) if (b.get(id) !== x) return false;
  return true;
}

/** The part of `diff` that concerns broker `brokerId`. */
export function localChanges(diff: MetadataDiff, brokerId: number): LocalChanges {
  const leaders: PartitionDelta[] = [];
  const followers: PartitionDelta[] = [];
  const removed: { topic: TopicImage; partition: PartitionImage }[] = [];
  for (const d of diff.changedPartitions) {
    const hostsNow = d.after.replicas.includes(brokerId);
    if (!hostsNow) {
      if (d.before?.replicas.includes(brokerId) === true) removed.push({ topic: d.topic, partition: d.before });
      continue;
    }
    const leadershipChanged = d.before === undefined || d.before.leader !== d.after.leader || d.before.leaderEpoch !== d.after.leaderEpoch;
    if (d.after.leader === brokerId) {
      // A leader also learns ISR changes (they change its high-watermark set).
      leaders.push(d);
    } else if (leadershipChanged) {
      followers.push(d);
    }
  }
  for (const topic of diff.deletedTopics) {
    for (const p of topic.partitions) if (p.replicas.includes(brokerId)) removed.push({ topic, partition: p });
  }
  return { leaders, followers, removed };
}
