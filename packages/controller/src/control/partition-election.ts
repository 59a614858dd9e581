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
// - Every change bumps partitionEpoch; a leader change also bumps leaderEpoch.
import type { PartitionImage } from '../metadata/metadata-image.js';
import type { PartitionChangeRecord } from '../metadata/metadata-records.js';
import { NO_LEADER } from '../metadata/metadata-records.js';

export type ElectionKind = 'keep' | 'preferred';

export interface ElectionInput {
  readonly topicId: string;
  readonly partition: PartitionImage;
  /** May this broker lead or stay in the ISR after this batch? */
  readonly isUsable: (brokerId: number) => boolean;
  readonly uncleanEnabled: boolean;
  /** 'keep' keeps a usable leader; 'preferred' moves leadership to the preferred replica when it can. */
  readonly election: ElectionKind;
}

export interface PartitionTarget {
  readonly leader: number;
  /** In replica order. */
  readonly isr: readonly number[];
  readonly unclean: boolean;
}

/** The state `input.partition` should be in (possibly its current state). */
export function electPartition(input: ElectionInput): PartitionTarget {
  const p = input.partition;
  let isr = p.replicas.filter((id) => p.isr.includes(id) && input.isUsable(id));
  const candidates = isr;
  if (isr.length === 0) {
    const last = p.leader !== NO_LEADER && p.isr.includes(p.leader) ? p.leader : p.replicas.find((id) => p.isr.includes(id));
    isr = last === undefined ? [] : [last];
  }
  const preferred = p.replicas[0];
  if (input.election === 'preferred' && preferred !== undefined && candidates.includes(preferred)) {
    return { leader: preferred, isr, unclean: false };
  }
  if (p.leader !== NO_LEADER && candidates.includes(p.leader)) return { leader: p.leader, isr, unclean: false };
  const first = candidates[0];
  if (first !== undefined) return { leader: first, isr, unclean: false };
  if (input.uncleanEnabled) {
    const replica = p.replicas.find((id) => input.isUsable(id));
    if (replica !== undefined) return { leader: replica, isr: [replica], unclean: true };
  }
  return { leader: NO_LEADER, isr, unclean: false };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** The record moving `partition` to `target`; undefined when nothing changes. */
export function partitionChangeTo(topicId: string, partition: PartitionImage, target: PartitionTarget): PartitionChangeRecord | undefined {
  const leaderChanged = target.leader !== partition.leader;
  const isrChanged = !sameIds(target.isr, partition.isr);
  if (!leaderChanged && !isrChanged) return undefined;
  return {
    type: 'partitionChange', topicId, partition: partition.partition,
    leader: leaderChanged ? target.leader : undefined,
    isr: isrChanged ? [...target.isr] : undefined,
    replicas: undefined,
    leaderEpoch: leaderChanged ? partition.leaderEpoch + 1 : partition.leaderEpoch,
    partitionEpoch: partition.partitionEpoch + 1,
    unclean: target.unclean,
  };
}

/** electPartition + partitionChangeTo. */
export function planPartitionChange(input: ElectionInput): PartitionChangeRecord | undefined {
  return partitionChangeTo(input.topicId, input.partition, electPartition(input));
}
