// Elections across the image: the partition changes that follow from brokers leaving (fence,
// controlled shutdown, re-registration) or coming back (unfence), and preferred-leader elections.
import type { MetadataImage, PartitionImage, TopicImage } from '../metadata/metadata-image.js';
import { allPartitions, effectiveTopicConfig, isBrokerUsable } from '../metadata/metadata-image.js';
import { NO_LEADER, type PartitionChangeRecord } from '../metadata/metadata-records.js';
import type { ControllerConfig } from './controller-config.js';
import { type ElectionKind, planPartitionChange } from './partition-election.js';
import type { ReplicaLogEndLookup } from './replica-log-reports.js';

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
  /** Replica log ends for recovery elections; without it recovering partitions stay as they are. */
  readonly replicaLogEnds?: ReplicaLogEndLookup;
}

/** Partition changes (in topic-name, partition order) for the selected partitions. */
export function reelect(image: MetadataImage, options: ReelectOptions, config: ControllerConfig): PartitionChangeRecord[] {
  const isUsable = (id: number): boolean => !options.leaving.has(id) && (options.joining.has(id) || isBrokerUsable(image, id));
  const out: PartitionChangeRecord[] = [];
  for (const { topic, partition } of allPartitions(image)) {
    if (!options.select(topic, partition)) continue;
    const lookup = options.replicaLogEnds;
    const change = planPartitionChange({
      topicId: topic.topicId, partition, isUsable, election: options.election,
      uncleanEnabled: uncleanElectionEnabled(image, topic.name, config),
      ...(lookup === undefined ? {} : { replicaLogEnd: (id: number) => lookup(image, id, topic.topicId, partition.partition) }),
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

/** Elections for offline partitions `joining` brokers can now lead (recovering ones with the reports). */
export function changesForJoining(image: MetadataImage, joining: ReadonlySet<number>, config: ControllerConfig, replicaLogEnds?: ReplicaLogEndLookup): PartitionChangeRecord[] {
  return reelect(image, {
    leaving: new Set(), joining, election: 'keep',
    select: (_t, p) => p.leader < 0 && p.replicas.some((id) => joining.has(id)),
    ...(replicaLogEnds === undefined ? {} : { replicaLogEnds }),
  }, config);
}

/** Recovery elections for recovering partitions `brokerId` hosts that its latest report may complete. */
export function changesForRecovery(image: MetadataImage, brokerId: number, config: ControllerConfig, replicaLogEnds: ReplicaLogEndLookup): PartitionChangeRecord[] {
  return reelect(image, {
    leaving: new Set(), joining: new Set(), election: 'keep', replicaLogEnds,
    select: (_t, p) => p.recovering && p.replicas.includes(brokerId),
  }, config);
}

/**
 * After `brokerId` restarted without a clean shutdown (its unflushed tail may be gone) and `leaving`
 * took it out of leadership and the ISRs: every partition left offline with it as the sole ISR member
 * (the last-ISR rule) must not elect it again as if its log were whole — it becomes recovering. Returns
 * `leaving` with those changes amended, plus new changes for partitions already offline with it.
 */
export function markUncleanRestart(image: MetadataImage, brokerId: number, leaving: readonly PartitionChangeRecord[]): PartitionChangeRecord[] {
  const out = [...leaving];
  const changeIndex = new Map(leaving.map((c, i) => [`${c.topicId}:${c.partition}`, i]));
  for (const { topic, partition: p } of allPartitions(image)) {
    if (p.recovering) continue;
    const i = changeIndex.get(`${topic.topicId}:${p.partition}`);
    const change = i === undefined ? undefined : out[i]!;
    const leader = change?.leader ?? p.leader;
    const isr = change?.isr ?? p.isr;
    if (leader !== NO_LEADER || isr.length !== 1 || isr[0] !== brokerId) continue;
    if (change !== undefined) out[i!] = { ...change, recovering: true };
    else {
      out.push({
        type: 'partitionChange', topicId: topic.topicId, partition: p.partition, leader: undefined, isr: undefined, replicas: undefined,
        leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch + 1, unclean: false, recovering: true,
      });
    }
  }
  return out;
}
