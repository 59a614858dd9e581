// What brokers last reported about their replicas of recovering partitions (heartbeats carry it):
// the input of recovery elections (partition-election.ts). Not metadata: each broker re-reports every
// heartbeat, so a controller that just became active learns it within one heartbeat interval.
//
// A report counts only while it is current: from the broker's current registration (broker epoch)
// and for the partition's current state (partition epoch). A recovering partition has no leader, so
// nothing appends to its replicas and a report of its current state stays true.
import { type MetadataImage, partitionOf } from '../metadata/metadata-image.js';
import type { ReplicaLogEnd } from './partition-election.js';

export interface ReplicaLogReport extends ReplicaLogEnd {
  readonly topicId: string;
  readonly partition: number;
  /** The partition epoch of the state the broker had applied when it measured. */
  readonly partitionEpoch: number;
}

/** Looks up a current report: undefined when the broker has not reported this partition state. */
export type ReplicaLogEndLookup = (image: MetadataImage, brokerId: number, topicId: string, partition: number) => ReplicaLogEnd | undefined;

interface BrokerReports {
  readonly brokerEpoch: number;
  readonly ends: ReadonlyMap<string, ReplicaLogReport>;
}

function key(topicId: string, partition: number): string {
  return `${topicId}:${partition}`;
}

/** The shell's store of reports; one per controller node (no module-level state). */
export class ReplicaLogReports {
  private readonly byBroker = new Map<number, BrokerReports>();

  /**
   * A broker's heartbeat: its reports replace the previous ones. Only reports of recovering partitions
   * the broker hosts are kept (which bounds the store by the partitions in the image).
   */
  note(image: MetadataImage, brokerId: number, brokerEpoch: number, reports: readonly ReplicaLogReport[]): void {
    const ends = new Map<string, ReplicaLogReport>();
    for (const r of reports) {
      const p = partitionOf(image, r.topicId, r.partition);
      if (p === undefined || !p.recovering || !p.replicas.includes(brokerId)) continue;
      if (!Number.isSafeInteger(r.logEndOffset) || r.logEndOffset < 0 || !Number.isInteger(r.lastEpoch) || r.lastEpoch < -1) continue;
      ends.set(key(r.topicId, r.partition), r);
    }
    if (ends.size === 0) this.byBroker.delete(brokerId);
    else this.byBroker.set(brokerId, { brokerEpoch, ends });
  }

  readonly lookup: ReplicaLogEndLookup = (image, brokerId, topicId, partition) => {
    const broker = image.brokers.get(brokerId);
    const reports = this.byBroker.get(brokerId);
    if (broker === undefined || reports === undefined || reports.brokerEpoch !== broker.brokerEpoch) return undefined;
    const report = reports.ends.get(key(topicId, partition));
    const p = partitionOf(image, topicId, partition);
    if (report === undefined || p === undefined || report.partitionEpoch !== p.partitionEpoch) return undefined;
    return { lastEpoch: report.lastEpoch, logEndOffset: report.logEndOffset };
  };
}
