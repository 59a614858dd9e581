// Leader and ISR decisions for one partition (Kafka's PartitionChangeBuilder), pure.
//
// - The ISR keeps only usable brokers (registered, unfenced, not shutting down, not leaving in this
//   batch) — but never becomes empty: when every member goes, the last one stays (the current leader
//   if it was in the ISR, else the first member in replica order) and the partition goes offline. That
//   member has every committed record, so it may lead again, cleanly, once it is back (see
//   metadata-invariants.ts).
// - The leader is kept when it is still usable and in the ISR (unless a preferred election moves it
//   to the first replica); otherwise the first usable ISR member in replica order (preferred first).
// - No usable ISR member: offline (NO_LEADER) — unless unclean election is enabled, when the first
//   usable replica in replica order leads with ISR = [itself], flagged unclean (data may be lost).
// - Recovering (the sole ISR member restarted uncleanly and may have lost acknowledged records): no
//   ordinary election. Once every replica is usable and has reported its log end for this partition
//   state, the replica with the longest log — greatest (last epoch, log end offset), the ISR member on
//   a tie — leads with ISR = [itself] (flagged unclean when it is not the ISR member). Every
//   acknowledged record is on some replica that kept it, and that replica's log is at least as long
//   (an epoch's records come from its one leader, whose log held everything acknowledged before).
//   With unclean election enabled the longest of the replicas that have reported leads at once.
// - An offline replica (its log failed on its broker, PartitionImage.offlineReplicas) counts as
//   unusable for this partition alone: it leaves the leadership and the ISR as a fenced broker would.
// - Every change bumps partitionEpoch; a leader change also bumps leaderEpoch.
import type { PartitionImage } from '../metadata/metadata-image.js';
import type { PartitionChangeRecord } from '../metadata/metadata-records.js';
import { NO_LEADER } from '../metadata/metadata-records.js';

export type ElectionKind = 'keep' | 'preferred';

/** Where a replica's log ends (as its broker reported it for the partition's current state). */
export interface ReplicaLogEnd {
  /** Leader epoch of the last batch; -1 for an empty log. */
  readonly lastEpoch: number;
  readonly logEndOffset: number;
}

export interface ElectionInput {
  readonly topicId: string;
  readonly partition: PartitionImage;
  /** May this broker lead or stay in the ISR after this batch? */
  readonly isUsable: (brokerId: number) => boolean;
  readonly uncleanEnabled: boolean;
  /** 'keep' keeps a usable leader; 'preferred' moves leadership to the preferred replica when it can. */
  readonly election: ElectionKind;
  /** A recovering partition's replica log ends (reported for its current partitionEpoch); none = wait. */
  readonly replicaLogEnd?: (brokerId: number) => ReplicaLogEnd | undefined;
}

export interface PartitionTarget {
  readonly leader: number;
  /** In replica order. */
  readonly isr: readonly number[];
  readonly unclean: boolean;
  readonly recovering: boolean;
  /** Absent: the partition's own (unchanged). */
  readonly offlineReplicas?: readonly number[];
}

/** The state `input.partition` should be in (possibly its current state); offline replicas are unusable. */
export function electPartition(input: ElectionInput): PartitionTarget {
  const offline = input.partition.offlineReplicas;
  if (offline.length > 0) {
    const isUsable = input.isUsable;
    input = { ...input, isUsable: (id) => !offline.includes(id) && isUsable(id) };
  }
  const p = input.partition;
  if (p.recovering) return recoveryElection(input);
  let isr = p.replicas.filter((id) => p.isr.includes(id) && input.isUsable(id));
  const candidates = isr;
  if (isr.length === 0) {
    const last = p.leader !== NO_LEADER && p.isr.includes(p.leader) ? p.leader : p.replicas.find((id) => p.isr.includes(id));
    isr = last === undefined ? [] : [last];
  }
  const preferred = p.replicas[0];
  if (input.election === 'preferred' && preferred !== undefined && candidates.includes(preferred)) {
    return { leader: preferred, isr, unclean: false, recovering: false };
  }
  if (p.leader !== NO_LEADER && candidates.includes(p.leader)) return { leader: p.leader, isr, unclean: false, recovering: false };
  const first = candidates[0];
  if (first !== undefined) return { leader: first, isr, unclean: false, recovering: false };
  if (input.uncleanEnabled) {
    const replica = p.replicas.find((id) => input.isUsable(id));
    if (replica !== undefined) return { leader: replica, isr: [replica], unclean: true, recovering: false };
  }
  return { leader: NO_LEADER, isr, unclean: false, recovering: false };
}

/** A recovering partition: the longest reported log leads once every replica is back (see above). */
function recoveryElection(input: ElectionInput): PartitionTarget {
  const p = input.partition;
  const waiting: PartitionTarget = { leader: NO_LEADER, isr: p.isr, unclean: false, recovering: true };
  const reported: { readonly id: number; readonly end: ReplicaLogEnd }[] = [];
  for (const id of p.replicas) {
    const end = input.isUsable(id) ? input.replicaLogEnd?.(id) : undefined;
    if (end !== undefined) reported.push({ id, end });
  }
  if (reported.length === 0 || (reported.length < p.replicas.length && !input.uncleanEnabled)) return waiting;
  // Greatest (last epoch, log end offset); ties go to the ISR member, then replica order (stable sort).
  const rank = (r: { id: number; end: ReplicaLogEnd }): [number, number, number] => [r.end.lastEpoch, r.end.logEndOffset, p.isr.includes(r.id) ? 1 : 0];
  let best = reported[0]!;
  for (const r of reported.slice(1)) {
    const [a, b] = [rank(r), rank(best)];
    if (a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] > b[2])))) best = r;
  }
  return { leader: best.id, isr: [best.id], unclean: !p.isr.includes(best.id), recovering: false };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** The record moving `partition` to `target`; undefined when nothing changes. */
export function partitionChangeTo(topicId: string, partition: PartitionImage, target: PartitionTarget): PartitionChangeRecord | undefined {
  const leaderChanged = target.leader !== partition.leader;
  const isrChanged = !sameIds(target.isr, partition.isr);
  const recoveringChanged = target.recovering !== partition.recovering;
  const offlineChanged = target.offlineReplicas !== undefined && !sameIds(target.offlineReplicas, partition.offlineReplicas);
  if (!leaderChanged && !isrChanged && !recoveringChanged && !offlineChanged) return undefined;
  return {
    type: 'partitionChange', topicId, partition: partition.partition,
    leader: leaderChanged ? target.leader : undefined,
    isr: isrChanged ? [...target.isr] : undefined,
    replicas: undefined,
    leaderEpoch: leaderChanged ? partition.leaderEpoch + 1 : partition.leaderEpoch,
    partitionEpoch: partition.partitionEpoch + 1,
    unclean: target.unclean,
    ...(recoveringChanged ? { recovering: target.recovering } : {}),
    ...(offlineChanged ? { offlineReplicas: partition.replicas.filter((id) => target.offlineReplicas!.includes(id)) } : {}),
  };
}

/** electPartition + partitionChangeTo. */
export function planPartitionChange(input: ElectionInput): PartitionChangeRecord | undefined {
  return partitionChangeTo(input.topicId, input.partition, electPartition(input));
}
