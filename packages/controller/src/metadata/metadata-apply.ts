// applyRecords: the metadata state machine. Pure and identical on every controller and broker: the
// same committed records at the same offsets give the same image everywhere.
//
// Records are checked against the image as they apply (in batch order). A record the controller
// could not have written correctly throws MetadataInvariantError and nothing of the batch applies:
// the node must stop rather than follow a log it does not understand. The checks (beyond ids that
// must exist):
// - partitions: replicas non-empty and distinct, ISR non-empty, distinct, ⊆ replicas; the leader is
//   NO_LEADER or an ISR member; partitionEpoch = old + 1 on every change; leaderEpoch = old + 1 when
//   the leader changes and unchanged otherwise; a new leader is a registered unfenced broker that was
//   in the previous ISR unless the change is flagged unclean; brokers joining an ISR are unfenced.
// - brokers: a re-registration raises the broker epoch; fence/unfence/shutdown name the current epoch.
// - producer ids: blocks never go back.
import { invariant } from './metadata-errors.js';
import type { BrokerImage, ConfigMap, MetadataImage, PartitionImage, TopicImage } from './metadata-image.js';
import type { ConfigRecord, MetadataRecord, PartitionChangeRecord, PartitionRecord } from './metadata-records.js';
import { NO_LEADER } from './metadata-records.js';

/** Copy-on-write draft of an image: each map is copied at most once per batch. */
class ImageDraft {
  brokers: Map<number, BrokerImage> | undefined;
  topicsById: Map<string, TopicImage> | undefined;
  topicIdsByName: Map<string, string> | undefined;
  topicConfigs: Map<string, ConfigMap> | undefined;
  brokerConfigs: Map<string, ConfigMap> | undefined;
  clusterConfigs: ConfigMap;
  nextProducerId: number;

  constructor(readonly base: MetadataImage) {
    this.clusterConfigs = base.clusterConfigs;
    this.nextProducerId = base.nextProducerId;
  }

  get brokersView(): ReadonlyMap<number, BrokerImage> {
    return this.brokers ?? this.base.brokers;
  }
  get topicsView(): ReadonlyMap<string, TopicImage> {
    return this.topicsById ?? this.base.topicsById;
  }
  get namesView(): ReadonlyMap<string, string> {
    return this.topicIdsByName ?? this.base.topicIdsByName;
  }
  get topicConfigsView(): ReadonlyMap<string, ConfigMap> {
    return this.topicConfigs ?? this.base.topicConfigs;
  }
  get brokerConfigsView(): ReadonlyMap<string, ConfigMap> {
    return this.brokerConfigs ?? this.base.brokerConfigs;
  }
  mutBrokers(): Map<number, BrokerImage> {
    return (this.brokers ??= new Map(this.base.brokers));
  }
  mutTopics(): Map<string, TopicImage> {
    return (this.topicsById ??= new Map(this.base.topicsById));
  }
  mutNames(): Map<string, string> {
    return (this.topicIdsByName ??= new Map(this.base.topicIdsByName));
  }
  mutTopicConfigs(): Map<string, ConfigMap> {
    return (this.topicConfigs ??= new Map(this.base.topicConfigs));
  }
  mutBrokerConfigs(): Map<string, ConfigMap> {
    return (this.brokerConfigs ??= new Map(this.base.brokerConfigs));
  }

  finish(offset: number): MetadataImage {
    return Object.freeze({
      clusterId: this.base.clusterId,
      offset,
      brokers: this.brokersView,
      topicsById: this.topicsView,
      topicIdsByName: this.namesView,
      topicConfigs: this.topicConfigsView,
      brokerConfigs: this.brokerConfigsView,
      clusterConfigs: this.clusterConfigs,
      nextProducerId: this.nextProducerId,
    });
  }
}

/**
 * Applies one committed batch at `offset` (its Raft index; snapshots apply at their last offset).
 * Returns a new image; `image` is untouched. Throws MetadataInvariantError (see the header).
 */
export function applyRecords(image: MetadataImage, records: readonly MetadataRecord[], offset: number): MetadataImage {
  invariant(Number.isSafeInteger(offset) && offset >= image.offset, () => `metadata offset ${offset} is behind the image at ${image.offset}`);
  const d = new ImageDraft(image);
  records.forEach((r, i) => {
    try {
      applyOne(d, r, offset);
    } catch (err) {
      if (err instanceof Error) err.message = `record ${i} (${r.type}) at offset ${offset}: ${err.message}`;
      throw err;
    }
  });
  return d.finish(offset);
}

function applyOne(d: ImageDraft, r: MetadataRecord, offset: number): void {
  switch (r.type) {
    case 'registerBroker': {
      invariant(isBrokerId(r.brokerId), () => `bad broker id ${r.brokerId}`);
      invariant(r.incarnationId.length > 0, () => 'empty incarnation id');
      invariant(r.brokerEpoch >= 0, () => `negative broker epoch ${r.brokerEpoch}`);
      const brokerEpoch = r.brokerEpoch === 0 ? offset : r.brokerEpoch;
      invariant(brokerEpoch > 0, () => 'broker epoch 0 at offset 0');
      const old = d.brokersView.get(r.brokerId);
      invariant(old === undefined || brokerEpoch > old.brokerEpoch, () => `broker ${r.brokerId} epoch ${brokerEpoch} does not exceed ${old?.brokerEpoch}`);
      invariant(Number.isInteger(r.endpoint.port) && r.endpoint.port >= 0 && r.endpoint.port <= 65_535, () => `bad port ${r.endpoint.port}`);
      d.mutBrokers().set(r.brokerId, Object.freeze({
        brokerId: r.brokerId, incarnationId: r.incarnationId, brokerEpoch,
        endpoint: Object.freeze({ ...r.endpoint }), rack: r.rack, roles: Object.freeze([...r.roles]),
        fenced: r.fenced, inControlledShutdown: false,
      }));
      return;
    }
    case 'unregisterBroker': {
      const b = currentBroker(d, r.brokerId, r.brokerEpoch);
      invariant(b.fenced, () => `broker ${r.brokerId} unregistered while unfenced`);
      d.mutBrokers().delete(r.brokerId);
      return;
    }
    case 'fenceBroker': {
      const b = currentBroker(d, r.brokerId, r.brokerEpoch);
      d.mutBrokers().set(b.brokerId, Object.freeze({ ...b, fenced: true }));
      return;
    }
    case 'unfenceBroker': {
      const b = currentBroker(d, r.brokerId, r.brokerEpoch);
      invariant(!b.inControlledShutdown, () => `broker ${r.brokerId} unfenced during controlled shutdown`);
      d.mutBrokers().set(b.brokerId, Object.freeze({ ...b, fenced: false }));
      return;
    }
    case 'brokerShutdown': {
      const b = currentBroker(d, r.brokerId, r.brokerEpoch);
      d.mutBrokers().set(b.brokerId, Object.freeze({ ...b, inControlledShutdown: true }));
      return;
    }
    case 'topic': {
      invariant(r.name.length > 0 && r.topicId.length > 0, () => 'topic with an empty name or id');
      invariant(!d.namesView.has(r.name), () => `topic ${r.name} already exists`);
      invariant(!d.topicsView.has(r.topicId), () => `topic id ${r.topicId} already exists`);
      d.mutTopics().set(r.topicId, Object.freeze({ name: r.name, topicId: r.topicId, internal: r.internal, partitions: Object.freeze([]) }));
      d.mutNames().set(r.name, r.topicId);
      return;
    }
    case 'partition':
      applyPartition(d, r);
      return;
    case 'partitionChange':
      applyPartitionChange(d, r);
      return;
    case 'config':
      applyConfig(d, r);
      return;
    case 'producerIdsBlock': {
      invariant(r.size >= 0 && r.firstProducerId >= d.nextProducerId, () => `producer id block [${r.firstProducerId}, +${r.size}) goes back from ${d.nextProducerId}`);
      invariant(Number.isSafeInteger(r.firstProducerId + r.size), () => 'producer ids exhausted');
      d.nextProducerId = r.firstProducerId + r.size;
      return;
    }
    case 'removeTopic': {
      const topic = d.topicsView.get(r.topicId);
      invariant(topic !== undefined, () => `unknown topic id ${r.topicId}`);
      d.mutTopics().delete(r.topicId);
      d.mutNames().delete(topic.name);
      if (d.topicConfigsView.has(topic.name)) d.mutTopicConfigs().delete(topic.name);
      return;
    }
  }
}

function isBrokerId(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id <= 0x7fff_ffff;
}

function currentBroker(d: ImageDraft, brokerId: number, brokerEpoch: number): BrokerImage {
  const b = d.brokersView.get(brokerId);
  invariant(b !== undefined, () => `unknown broker ${brokerId}`);
  invariant(b.brokerEpoch === brokerEpoch, () => `broker ${brokerId} epoch ${brokerEpoch} is not the current ${b.brokerEpoch}`);
  return b;
}

function distinct(ids: readonly number[]): boolean {
  return new Set(ids).size === ids.length;
}

function checkPartitionShape(where: string, replicas: readonly number[], isr: readonly number[], leader: number): void {
  invariant(replicas.length > 0 && distinct(replicas) && replicas.every(isBrokerId), () => `${where}: bad replicas [${replicas.join(',')}]`);
  invariant(isr.length > 0 && distinct(isr), () => `${where}: bad ISR [${isr.join(',')}]`);
  invariant(isr.every((id) => replicas.includes(id)), () => `${where}: ISR [${isr.join(',')}] is not within replicas [${replicas.join(',')}]`);
  invariant(leader === NO_LEADER || isr.includes(leader), () => `${where}: leader ${leader} is not in ISR [${isr.join(',')}]`);
}

/** Offline replicas: distinct replicas, never the leader (a failed log cannot lead). */
function checkOfflineReplicas(where: string, replicas: readonly number[], offline: readonly number[], leader: number): void {
  invariant(distinct(offline) && offline.every((id) => replicas.includes(id)), () => `${where}: offline replicas [${offline.join(',')}] are not distinct replicas of [${replicas.join(',')}]`);
  invariant(leader === NO_LEADER || !offline.includes(leader), () => `${where}: leader ${leader} is an offline replica`);
}

/** ISR stored in replica order, so equal sets compare equal. */
function inReplicaOrder(replicas: readonly number[], isr: readonly number[]): readonly number[] {
  return Object.freeze(replicas.filter((id) => isr.includes(id)));
}

function applyPartition(d: ImageDraft, r: PartitionRecord): void {
  const topic = d.topicsView.get(r.topicId);
  invariant(topic !== undefined, () => `partition of unknown topic id ${r.topicId}`);
  const where = `${topic.name}-${r.partition}`;
  invariant(r.partition === topic.partitions.length, () => `${where}: partitions must be added in order (next is ${topic.partitions.length})`);
  checkPartitionShape(where, r.replicas, r.isr, r.leader);
  invariant(r.leaderEpoch >= 0 && r.partitionEpoch >= 0, () => `${where}: negative epoch`);
  if (r.leader !== NO_LEADER) {
    const leader = d.brokersView.get(r.leader);
    invariant(leader !== undefined && !leader.fenced, () => `${where}: leader ${r.leader} is not a registered unfenced broker`);
  }
  const recovering = r.recovering === true;
  invariant(!recovering || (r.leader === NO_LEADER && r.isr.length === 1), () => `${where}: recovering with leader ${r.leader} and ISR [${r.isr.join(',')}]`);
  const offlineReplicas = r.offlineReplicas ?? [];
  checkOfflineReplicas(where, r.replicas, offlineReplicas, r.leader);
  const p: PartitionImage = Object.freeze({
    partition: r.partition, replicas: Object.freeze([...r.replicas]), isr: inReplicaOrder(r.replicas, r.isr),
    leader: r.leader, leaderEpoch: r.leaderEpoch, partitionEpoch: r.partitionEpoch, recovering,
    offlineReplicas: inReplicaOrder(r.replicas, offlineReplicas),
  });
  d.mutTopics().set(topic.topicId, Object.freeze({ ...topic, partitions: Object.freeze([...topic.partitions, p]) }));
}

function applyPartitionChange(d: ImageDraft, r: PartitionChangeRecord): void {
  const topic = d.topicsView.get(r.topicId);
  invariant(topic !== undefined, () => `change to unknown topic id ${r.topicId}`);
  const old = topic.partitions[r.partition];
  const where = `${topic.name}-${r.partition}`;
  invariant(old !== undefined, () => `change to unknown partition ${where}`);
  const replicas = r.replicas ?? old.replicas;
  const isr = r.isr ?? old.isr;
  const leader = r.leader ?? old.leader;
  checkPartitionShape(where, replicas, isr, leader);
  invariant(r.partitionEpoch === old.partitionEpoch + 1, () => `${where}: partition epoch ${r.partitionEpoch} after ${old.partitionEpoch}`);
  const leaderChanged = leader !== old.leader;
  invariant(r.leaderEpoch === (leaderChanged ? old.leaderEpoch + 1 : old.leaderEpoch),
    () => `${where}: leader epoch ${r.leaderEpoch} after ${old.leaderEpoch} (leader ${old.leader} -> ${leader})`);
  if (leaderChanged && leader !== NO_LEADER) {
    const b = d.brokersView.get(leader);
    invariant(b !== undefined && !b.fenced, () => `${where}: new leader ${leader} is not a registered unfenced broker`);
    invariant(r.unclean || old.isr.includes(leader), () => `${where}: new leader ${leader} was not in ISR [${old.isr.join(',')}] and the change is not unclean`);
  }
  invariant(!r.unclean || (leaderChanged && !old.isr.includes(leader)), () => `${where}: flagged unclean but leader ${leader} came from the ISR`);
  // A replica a `replicas` change removes takes its offline mark along.
  const offlineReplicas = r.offlineReplicas ?? old.offlineReplicas.filter((id) => replicas.includes(id));
  checkOfflineReplicas(where, replicas, offlineReplicas, leader);
  for (const id of isr) {
    if (old.isr.includes(id)) continue;
    const b = d.brokersView.get(id);
    invariant(b !== undefined && !b.fenced, () => `${where}: broker ${id} joins the ISR but is not a registered unfenced broker`);
    invariant(!offlineReplicas.includes(id), () => `${where}: broker ${id} joins the ISR but its replica is offline`);
  }
  // Recovering: offline with the one (suspect) ISR member until a recovery election names a leader.
  const recovering = r.recovering ?? old.recovering;
  invariant(!recovering || (leader === NO_LEADER && isr.length === 1), () => `${where}: recovering with leader ${leader} and ISR [${isr.join(',')}]`);
  invariant(recovering || !old.recovering || leader !== NO_LEADER, () => `${where}: recovery ended without electing a leader`);
  const p: PartitionImage = Object.freeze({
    partition: old.partition, replicas: Object.freeze([...replicas]), isr: inReplicaOrder(replicas, isr),
    leader, leaderEpoch: r.leaderEpoch, partitionEpoch: r.partitionEpoch, recovering,
    offlineReplicas: inReplicaOrder(replicas, offlineReplicas),
  });
  const partitions = [...topic.partitions];
  partitions[r.partition] = p;
  d.mutTopics().set(topic.topicId, Object.freeze({ ...topic, partitions: Object.freeze(partitions) }));
}

function withConfig(map: ConfigMap, name: string, value: string | undefined): ConfigMap {
  const next = new Map(map);
  if (value === undefined) next.delete(name);
  else next.set(name, value);
  return next;
}

function applyConfig(d: ImageDraft, r: ConfigRecord): void {
  invariant(r.name.length > 0, () => 'config with an empty name');
  switch (r.resourceType) {
    case 'topic': {
      invariant(d.namesView.has(r.resourceName), () => `config for unknown topic ${r.resourceName}`);
      const next = withConfig(d.topicConfigsView.get(r.resourceName) ?? new Map(), r.name, r.value);
      if (next.size === 0) d.mutTopicConfigs().delete(r.resourceName);
      else d.mutTopicConfigs().set(r.resourceName, next);
      return;
    }
    case 'broker': {
      invariant(/^(0|[1-9]\d*)$/.test(r.resourceName), () => `broker config for a bad broker id ${JSON.stringify(r.resourceName)}`);
      const next = withConfig(d.brokerConfigsView.get(r.resourceName) ?? new Map(), r.name, r.value);
      if (next.size === 0) d.mutBrokerConfigs().delete(r.resourceName);
      else d.mutBrokerConfigs().set(r.resourceName, next);
      return;
    }
    case 'cluster':
      invariant(r.resourceName === '', () => `cluster config with resource name ${JSON.stringify(r.resourceName)}`);
      d.clusterConfigs = withConfig(d.clusterConfigs, r.name, r.value);
      return;
  }
}
