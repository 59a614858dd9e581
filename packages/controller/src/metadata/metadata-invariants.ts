// Cluster-level invariants of an image, beyond what applyRecords checks record by record. The
// controller's decisions must keep them; the simulator and tests assert them after every step.
//
// The fenced-ISR rule (Kafka's pre-ELR "last ISR member" rule): a fenced broker (or one in controlled
// shutdown) is never a leader and never in an ISR, except as the sole ISR member of an offline
// partition. When fencing would empty an ISR, the controller keeps the last member instead: it holds
// every committed record, so it is the one replica that may lead again without unclean election, once
// it is back and unfenced. Emptying the ISR would leave the partition offline for good (or until an
// unclean election).
import type { MetadataImage } from './metadata-image.js';
import { allPartitions } from './metadata-image.js';
import { NO_LEADER } from './metadata-records.js';

/** Every broken invariant, as a sentence; empty when the image is sound. */
export function imageInvariantViolations(image: MetadataImage): string[] {
  const problems: string[] = [];
  for (const { topic, partition: p } of allPartitions(image)) {
    const where = `${topic.name}-${p.partition}`;
    if (p.leader !== NO_LEADER) {
      const b = image.brokers.get(p.leader);
      if (b === undefined) problems.push(`${where}: leader ${p.leader} is not registered`);
      else if (b.fenced) problems.push(`${where}: leader ${p.leader} is fenced`);
      else if (b.inControlledShutdown) problems.push(`${where}: leader ${p.leader} is in controlled shutdown`);
      if (!p.isr.includes(p.leader)) problems.push(`${where}: leader ${p.leader} not in ISR [${p.isr.join(',')}]`);
    }
    if (!p.isr.every((id) => p.replicas.includes(id))) problems.push(`${where}: ISR [${p.isr.join(',')}] not within replicas [${p.replicas.join(',')}]`);
    if (p.isr.length === 0) problems.push(`${where}: empty ISR`);
    const unusable = p.isr.filter((id) => {
      const b = image.brokers.get(id);
      return b === undefined || b.fenced || b.inControlledShutdown;
    });
    const lastIsrKept = p.leader === NO_LEADER && p.isr.length === 1;
    if (!p.offlineReplicas.every((id) => p.replicas.includes(id))) problems.push(`${where}: offline replicas [${p.offlineReplicas.join(',')}] not within replicas [${p.replicas.join(',')}]`);
    if (p.leader !== NO_LEADER && p.offlineReplicas.includes(p.leader)) problems.push(`${where}: leader ${p.leader} is an offline replica`);
    const offlineInIsr = p.isr.filter((id) => p.offlineReplicas.includes(id));
    if (offlineInIsr.length > 0 && !lastIsrKept) problems.push(`${where}: offline replicas [${offlineInIsr.join(',')}] in ISR [${p.isr.join(',')}]`);
    if (p.recovering && !lastIsrKept) problems.push(`${where}: recovering with leader ${p.leader} and ISR [${p.isr.join(',')}]`);
    if (unusable.length > 0 && !lastIsrKept) problems.push(`${where}: fenced or departed brokers [${unusable.join(',')}] in ISR [${p.isr.join(',')}]`);
  }
  return problems;
}
