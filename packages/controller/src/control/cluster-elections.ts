// Elections across the image: the partition changes that follow from brokers leaving (fence,
// controlled shutdown, re-registration) or coming back (unfence), and preferred-leader elections.
import type { MetadataImage, PartitionImage, TopicImage } from '../metadata/metadata-image.js';
import { allPartitions, effectiveTopicConfig, isBrokerUsable } from '../metadata/metadata-image.js';
import type { PartitionChangeRecord } from '../metadata/metadata-records.js';
import type { ControllerConfig } from './controller-config.js';
import { type ElectionKind, planPartitionChange } from './partition-election.js';

export const UNCLEAN_LEADER_ELECTION_ENABLE = 'unclean.leader.election.enable';

/** The topic's unclean.leader.election.enable: its override, the cluster default, the static default. */
export function uncleanElectionEnabled(image: MetadataImage, topicName: string, config: ControllerConfig): boolean {
  const v = effectiveTopicConfig(image, topicName, UNCLEAN_LEADER_ELECTION_ENABLE);
  return v === undefined ? config.uncleanLeaderElectionEnable : v.trim().toLowerCase() === 'true';
}

export interface ReelectOptions {
  /** Brokers that stop being usable in this batch (their fence/shutdown record follows the changes). */
  readonly leaving: ReadonlySet<number>;
  /** Brokers that become usable in this batch (their unfence record precedes the changes). */
  readonly joining: ReadonlySet<number>;
  readonly election: ElectionKind;
  /** Which partitions to consider. */
  readonly select: (topic: TopicImage, partition: PartitionImage) => boolean;
}

/** Partition changes (in topic-name, partition order) for the selected partitions. */
export function reelect(image: MetadataImage, options: ReelectOptions, config: ControllerConfig): PartitionChangeRecord[] {
  const isUsable = (id: number): boolean => !options.leaving.has(id) && (options.joining.has(id) || isBrokerUsable(image, id));
  const out: PartitionChangeRecord[] = [];
  for (const { topic, partition } of allPartitions(image)) {
    if (!options.select(topic, partition)) continue;
    const change = planPartitionChange({
      topicId: topic.topicId, partition, isUsable, election: options.election,
      uncleanEnabled: uncleanElectionEnabled(image, topic.name, config),
    });
    if (change !== undefined) out.push(change);
  }
  return out;
}

/** Changes that take `leaving` out of leadership and ISRs (the last-ISR member aside). */
export function changesForLeaving(image: MetadataImage, leaving: ReadonlySet<number>, config: ControllerConfig): PartitionChangeRecord[] {
  return reelect(image, {
    leaving, joining: new Set(), election: 'keep',
    select: (_t, p) => leaving.has(p.leader) || p.isr.some((id) => leaving.has(id)),
  }, config);
}

/** Elections for offline partitions `joining` brokers can now lead. */
export function changesForJoining(image: MetadataImage, joining: ReadonlySet<number>, config: ControllerConfig): PartitionChangeRecord[] {
  return reelect(image, {
    leaving: new Set(), joining, election: 'keep',
    select: (_t, p) => p.leader < 0 && p.replicas.some((id) => joining.has(id)),
  }, config);
}
