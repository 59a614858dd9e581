// Elections across the image: the partition changes that follow from brokers leaving (fence,
// controlled shutdown, re-registration) or coming back (unfence), and preferred-leader elections.
import type { MetadataImage, PartitionImage, TopicImage } from '../metadata/metadata-image.js';
import { allPartitions, effectiveTopicConfig, isBrokerUsable } from '../metadata/metadata-image.js';
import { NO_LEADER, type PartitionChangeRecord } from '../metadata/metadata-records.js';
import type { ControllerConfig } from './controller-config.js';
import { type ElectionKind, electPartition, partitionChangeTo, planPartitionChange } from './partition-election.js';
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

/** A replica by topic id and partition, as a broker reports it. */
export interface ReplicaRef {
  readonly topicId: string;
  readonly partition: number;
}

/**
 * `brokerId` reports the logs of `replicas` failed (or could not open): each one it hosts that is not
 * offline yet becomes offline — leadership moves to another usable ISR member and the replica leaves
 * the ISR, as on a fence but for that partition alone (the last-ISR rule keeps it as the sole member
 * when no one else can take over: the partition goes offline rather than lose data). Reports of
 * partitions the broker does not host, or that no longer exist, are ignored.
 */
export function changesForOfflineReplicas(image: MetadataImage, brokerId: number, replicas: readonly ReplicaRef[], config: ControllerConfig): PartitionChangeRecord[] {
  const out: PartitionChangeRecord[] = [];
  const seen = new Set<string>();
  for (const r of replicas) {
    const key = `${r.topicId}:${r.partition}`;
    const topic = image.topicsById.get(r.topicId);
    const p = topic?.partitions[r.partition];
    if (topic === undefined || p === undefined || seen.has(key) || !p.replicas.includes(brokerId) || p.offlineReplicas.includes(brokerId)) continue;
    seen.add(key);
    const offlineReplicas = p.replicas.filter((id) => id === brokerId || p.offlineReplicas.includes(id));
    const target = electPartition({
      topicId: topic.topicId, partition: { ...p, offlineReplicas }, isUsable: (id) => isBrokerUsable(image, id), election: 'keep',
      uncleanEnabled: uncleanElectionEnabled(image, topic.name, config),
    });
    const change = partitionChangeTo(topic.topicId, p, { ...target, offlineReplicas });
    if (change !== undefined) out.push(change);
  }
  return out;
}

/**
 * A new registration of `brokerId` (a restart) starts with no offline replicas: this run reports again
 * the logs it cannot open. `changes` (the same batch's changes so far) are amended; partitions they do
 * not touch get a change of their own. The broker is fenced by the registration, so nothing it hosts
 * becomes electable before it has reported.
 */
export function clearOfflineReplicas(image: MetadataImage, brokerId: number, changes: readonly PartitionChangeRecord[]): PartitionChangeRecord[] {
  const out = [...changes];
  const changeIndex = new Map(changes.map((c, i) => [`${c.topicId}:${c.partition}`, i]));
  for (const { topic, partition: p } of allPartitions(image)) {
    if (!p.offlineReplicas.includes(brokerId)) continue;
    const offlineReplicas = p.offlineReplicas.filter((id) => id !== brokerId);
    const i = changeIndex.get(`${topic.topicId}:${p.partition}`);
    if (i !== undefined) out[i] = { ...out[i]!, offlineReplicas };
    else {
      out.push({
        type: 'partitionChange', topicId: topic.topicId, partition: p.partition, leader: undefined, isr: undefined, replicas: undefined,
        leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch + 1, unclean: false, offlineReplicas,
      });
    }
  }
  return out;
}
