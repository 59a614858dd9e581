// AlterPartition (ISR changes requested by partition leaders), preferred-leader elections, and
// producer id blocks.
import type { MetadataImage, PartitionImage } from '../metadata/metadata-image.js';
import { allPartitions, isBrokerUsable, isReplicaUsable, partitionOf, topicByName } from '../metadata/metadata-image.js';
import type { MetadataRecord, PartitionChangeRecord } from '../metadata/metadata-records.js';
import type { ControllerContext } from './controller-config.js';
import { type ControllerError, type ControllerResult, controllerError } from './controller-result.js';
import { requireCurrentBroker } from './broker-lifecycle.js';
import { uncleanElectionEnabled } from './cluster-elections.js';
import { planPartitionChange } from './partition-election.js';

export interface AlterPartitionRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  /** The topic id; when empty, `topic` (the name) is used. */
  readonly topicId: string;
  readonly topic: string;
  readonly partition: number;
  /** The leader epoch and partition epoch the leader acts on. */
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
  /**
   * KIP-903: the broker epoch each proposed member's last fetch carried (-1 = unknown). A member joining
   * the ISR whose registration is not that epoch restarted since (and may have lost an unflushed
   * tail): INELIGIBLE_REPLICA. Absent: only fencing and shutdown are checked.
   */
  readonly newIsrBrokerEpochs?: readonly { readonly brokerId: number; readonly brokerEpoch: number }[] | undefined;
}

export interface AlterPartitionState {
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
  readonly replicas: readonly number[];
}

export type AlterPartitionResponse =
  | { readonly ok: true; readonly topicId: string; readonly state: AlterPartitionState }
  | { readonly ok: false; readonly error: ControllerError; readonly state: AlterPartitionState | undefined };

function stateOf(p: PartitionImage): AlterPartitionState {
  return { leader: p.leader, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, isr: p.isr, replicas: p.replicas };
}

/**
 * A leader's ISR change, compare-and-set on partitionEpoch (checks in Kafka's order): the requester
 * is the current broker incarnation (STALE_BROKER_EPOCH), the partition exists, the requester leads
 * in the epoch it names (FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER), the partition epoch is current
 * (INVALID_UPDATE_VERSION), the new ISR holds the leader, is within the replicas without duplicates
 * (INVALID_REQUEST) and adds only usable brokers in the registration the leader saw them fetch with
 * (INELIGIBLE_REPLICA, KIP-841 and KIP-903; not offline replicas, KIP-858). Bumps partitionEpoch, never
 * leaderEpoch. An unchanged ISR answers the current state with no records.
 */
export function alterPartition(image: MetadataImage, req: AlterPartitionRequest, _ctx: ControllerContext): ControllerResult<AlterPartitionResponse> {
  const refuse = (error: ControllerError, p?: PartitionImage): ControllerResult<AlterPartitionResponse> =>
    ({ records: [], response: { ok: false, error, state: p === undefined ? undefined : stateOf(p) } });
  const broker = requireCurrentBroker(image, req.brokerId, req.brokerEpoch);
  if (!('brokerId' in broker)) return refuse(broker);
  const topic = req.topicId !== '' ? image.topicsById.get(req.topicId) : topicByName(image, req.topic);
  if (topic === undefined) {
    return refuse(req.topicId !== '' ? controllerError('UNKNOWN_TOPIC_ID', `topic id ${req.topicId} does not exist`) : controllerError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${req.topic} does not exist`));
  }
  const p = partitionOf(image, topic.topicId, req.partition);
  if (p === undefined) return refuse(controllerError('UNKNOWN_TOPIC_OR_PARTITION', `${topic.name}-${req.partition} does not exist`));
  if (req.leaderEpoch !== p.leaderEpoch) {
    return refuse(controllerError('FENCED_LEADER_EPOCH', `${topic.name}-${req.partition}: leader epoch ${req.leaderEpoch} is not the current ${p.leaderEpoch}`), p);
  }
  if (p.leader !== req.brokerId) {
    return refuse(controllerError('NOT_LEADER_OR_FOLLOWER', `${topic.name}-${req.partition}: broker ${req.brokerId} is not the leader (${p.leader})`), p);
  }
  if (req.partitionEpoch !== p.partitionEpoch) {
    return refuse(controllerError('INVALID_UPDATE_VERSION', `${topic.name}-${req.partition}: partition epoch ${req.partitionEpoch} is not the current ${p.partitionEpoch}`), p);
  }
  const newIsr = req.newIsr;
  if (new Set(newIsr).size !== newIsr.length) return refuse(controllerError('INVALID_REQUEST', `new ISR [${newIsr.join(',')}] has duplicates`), p);
  if (!newIsr.includes(p.leader)) return refuse(controllerError('INVALID_REQUEST', `new ISR [${newIsr.join(',')}] does not contain the leader ${p.leader}`), p);
  const outside = newIsr.filter((id) => !p.replicas.includes(id));
  if (outside.length > 0) return refuse(controllerError('INVALID_REQUEST', `new ISR members [${outside.join(',')}] are not replicas [${p.replicas.join(',')}]`), p);
  const ineligible = newIsr.filter((id) => !p.isr.includes(id) && !isReplicaUsable(image, p, id));
  if (ineligible.length > 0) {
    return refuse(controllerError('INELIGIBLE_REPLICA', `brokers [${ineligible.join(',')}] cannot join the ISR (fenced, shutting down, unregistered or their replica is offline)`), p);
  }
  const restarted = (req.newIsrBrokerEpochs ?? []).filter(({ brokerId, brokerEpoch }) =>
    brokerEpoch !== -1 && newIsr.includes(brokerId) && !p.isr.includes(brokerId) && image.brokers.get(brokerId)?.brokerEpoch !== brokerEpoch);
  if (restarted.length > 0) {
    const which = restarted.map(({ brokerId, brokerEpoch }) => `${brokerId} (fetched with epoch ${brokerEpoch}, registered ${image.brokers.get(brokerId)?.brokerEpoch ?? 'none'})`);
    return refuse(controllerError('INELIGIBLE_REPLICA', `brokers ${which.join(', ')} cannot join the ISR: they re-registered since that fetch`), p);
  }
  const isr = p.replicas.filter((id) => newIsr.includes(id));
  if (isr.length === p.isr.length && isr.every((id) => p.isr.includes(id))) {
    return { records: [], response: { ok: true, topicId: topic.topicId, state: stateOf(p) } };
  }
  const record: PartitionChangeRecord = {
    type: 'partitionChange', topicId: topic.topicId, partition: p.partition, leader: undefined, isr, replicas: undefined,
    leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch + 1, unclean: false,
  };
  return { records: [record], response: { ok: true, topicId: topic.topicId, state: { ...stateOf(p), isr, partitionEpoch: p.partitionEpoch + 1 } } };
}

export interface ElectLeadersRequest {
  /** undefined = every partition (auto.leader.rebalance.enable). */
  readonly partitions: readonly { readonly topic: string; readonly partition: number }[] | undefined;
}

export type ElectLeaderResult =
  | { readonly ok: true; readonly topic: string; readonly partition: number; readonly leader: number }
  | { readonly ok: false; readonly topic: string; readonly partition: number; readonly error: ControllerError };

export interface ElectLeadersResponse {
  /** For the partitions named (all: only those that move). */
  readonly results: readonly ElectLeaderResult[];
}

/**
 * Preferred-leader election: where the first replica is usable and in the ISR but does not lead,
 * leadership moves back to it (leaderEpoch + 1). Named partitions that cannot or need not move get
 * PREFERRED_LEADER_NOT_AVAILABLE / ELECTION_NOT_NEEDED.
 */
export function electLeaders(image: MetadataImage, req: ElectLeadersRequest, ctx: ControllerContext): ControllerResult<ElectLeadersResponse> {
  const records: MetadataRecord[] = [];
  const results: ElectLeaderResult[] = [];
  const targets = req.partitions === undefined
    ? [...allPartitions(image)].map(({ topic, partition }) => ({ topic: topic.name, partition: partition.partition, all: true }))
    : req.partitions.map((x) => ({ ...x, all: false }));
  for (const target of targets) {
    const topic = topicByName(image, target.topic);
    const p = topic?.partitions[target.partition];
    if (topic === undefined || p === undefined) {
      results.push({ ok: false, topic: target.topic, partition: target.partition, error: controllerError('UNKNOWN_TOPIC_OR_PARTITION', `${target.topic}-${target.partition} does not exist`) });
      continue;
    }
    const preferred = p.replicas[0]!;
    if (p.leader === preferred) {
      if (!target.all) results.push({ ok: false, topic: topic.name, partition: p.partition, error: controllerError('ELECTION_NOT_NEEDED', `preferred replica ${preferred} already leads`) });
      continue;
    }
    const change = planPartitionChange({
      topicId: topic.topicId, partition: p, isUsable: (id) => isBrokerUsable(image, id), election: 'preferred',
      uncleanEnabled: uncleanElectionEnabled(image, topic.name, ctx.config),
    });
    if (change === undefined || change.leader !== preferred) {
      if (!target.all) {
        results.push({ ok: false, topic: topic.name, partition: p.partition, error: controllerError('PREFERRED_LEADER_NOT_AVAILABLE', `preferred replica ${preferred} is not alive and in the ISR [${p.isr.join(',')}]`) });
      }
      continue;
    }
    records.push(change);
    results.push({ ok: true, topic: topic.name, partition: p.partition, leader: preferred });
  }
  return { records, response: { results } };
}

/** electLeaders over every partition: the records for auto.leader.rebalance.enable. */
export function rebalanceLeaders(image: MetadataImage, ctx: ControllerContext): ControllerResult<ElectLeadersResponse> {
  return electLeaders(image, { partitions: undefined }, ctx);
}

export interface AllocateProducerIdsRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export type AllocateProducerIdsResponse =
  | { readonly ok: true; readonly firstProducerId: number; readonly size: number }
  | { readonly ok: false; readonly error: ControllerError };

/** The next block of config.producerIdBlockSize producer ids, for a current broker incarnation. */
export function allocateProducerIds(image: MetadataImage, req: AllocateProducerIdsRequest, ctx: ControllerContext): ControllerResult<AllocateProducerIdsResponse> {
  const broker = requireCurrentBroker(image, req.brokerId, req.brokerEpoch);
  if (!('brokerId' in broker)) return { records: [], response: { ok: false, error: broker } };
  const size = ctx.config.producerIdBlockSize;
  const first = image.nextProducerId;
  if (!Number.isSafeInteger(first + size)) return { records: [], response: { ok: false, error: controllerError('INVALID_REQUEST', 'producer ids exhausted') } };
  return {
    records: [{ type: 'producerIdsBlock', brokerId: req.brokerId, brokerEpoch: req.brokerEpoch, firstProducerId: first, size }],
    response: { ok: true, firstProducerId: first, size },
  };
}
