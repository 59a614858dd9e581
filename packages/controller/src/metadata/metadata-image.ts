// MetadataImage: the cluster metadata as of one offset of the metadata log, immutable. Built only by
// applyRecords (metadata-apply.ts) from committed records, identically on every controller and broker.
// Copy-on-write: applying a batch copies the maps it touches and shares everything else, so keeping
// the previous image (for diffImages) costs little.
import type { BrokerEndpoint } from './metadata-records.js';
import { NO_LEADER } from './metadata-records.js';

export interface BrokerImage {
  readonly brokerId: number;
  readonly incarnationId: string;
  /** The offset of the broker's current registration; it changes on every (re-)registration. */
  readonly brokerEpoch: number;
  readonly endpoint: BrokerEndpoint;
  readonly rack: string | undefined;
  readonly roles: readonly string[];
  /** Fenced brokers lead nothing and, but for the last-ISR rule, are in no ISR. */
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
}

export interface PartitionImage {
  readonly partition: number;
  /** The first is the preferred leader. */
  readonly replicas: readonly number[];
  /** Kept in replica order. */
  readonly isr: readonly number[];
  /** NO_LEADER (-1) = offline. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /**
   * Awaiting recovery (KIP-966's problem): the sole ISR member restarted after an unclean shutdown and
   * may have lost an unflushed tail holding acknowledged records. Offline (leader NO_LEADER, ISR that
   * one member) until a recovery election picks the replica with the longest log, once every replica
   * is back and has reported its log end (control/partition-election.ts).
   */
  readonly recovering: boolean;
  /**
   * Replicas whose log failed on their broker (an I/O error, or it could not open), in replica order:
   * each leads nothing and joins no ISR (but for the last-ISR rule) until its broker registers again —
   * Kafka's offline log directories, per replica. Their data stays on the broker's disk.
   */
  readonly offlineReplicas: readonly number[];
}

export interface TopicImage {
  readonly name: string;
  readonly topicId: string;
  readonly internal: boolean;
  /** Index i holds partition i. */
  readonly partitions: readonly PartitionImage[];
}

export type ConfigMap = ReadonlyMap<string, string>;

export interface MetadataImage {
  readonly clusterId: string;
  /** The Raft index of the last batch applied; 0 = nothing yet. */
  readonly offset: number;
  readonly brokers: ReadonlyMap<number, BrokerImage>;
  readonly topicsById: ReadonlyMap<string, TopicImage>;
  readonly topicIdsByName: ReadonlyMap<string, string>;
  /** Overrides per topic name (only topics that exist). */
  readonly topicConfigs: ReadonlyMap<string, ConfigMap>;
  /** Overrides per broker id as a decimal string. */
  readonly brokerConfigs: ReadonlyMap<string, ConfigMap>;
  /** Cluster-wide defaults (Kafka's dynamic default broker configs). */
  readonly clusterConfigs: ConfigMap;
  /** The first producer id of the next block to hand out. */
  readonly nextProducerId: number;
}

const EMPTY_CONFIG: ConfigMap = new Map();

export function emptyImage(clusterId = ''): MetadataImage {
  return Object.freeze({
    clusterId, offset: 0, brokers: new Map(), topicsById: new Map(), topicIdsByName: new Map(),
    topicConfigs: new Map(), brokerConfigs: new Map(), clusterConfigs: EMPTY_CONFIG, nextProducerId: 0,
  });
}

export function topicByName(image: MetadataImage, name: string): TopicImage | undefined {
  const id = image.topicIdsByName.get(name);
  return id === undefined ? undefined : image.topicsById.get(id);
}

export function partitionOf(image: MetadataImage, topicId: string, partition: number): PartitionImage | undefined {
  return image.topicsById.get(topicId)?.partitions[partition];
}

export function topicConfig(image: MetadataImage, topicName: string): ConfigMap {
  return image.topicConfigs.get(topicName) ?? EMPTY_CONFIG;
}

export function brokerConfig(image: MetadataImage, brokerId: number): ConfigMap {
  return image.brokerConfigs.get(String(brokerId)) ?? EMPTY_CONFIG;
}

/**
 * The effective value of a topic-level key: the topic's override, else the cluster-wide default
 * (a 'cluster' config, or a broker config with resource name ''), else undefined (the static default).
 */
export function effectiveTopicConfig(image: MetadataImage, topicName: string, key: string): string | undefined {
  return topicConfig(image, topicName).get(key) ?? image.clusterConfigs.get(key);
}

/** A broker that may lead and join ISRs: registered, unfenced, not shutting down. */
export function isBrokerUsable(image: MetadataImage, brokerId: number): boolean {
  const b = image.brokers.get(brokerId);
  return b !== undefined && !b.fenced && !b.inControlledShutdown;
}

/** May `brokerId` lead `p` or join its ISR: a usable broker whose replica of `p` is not offline. */
export function isReplicaUsable(image: MetadataImage, p: PartitionImage, brokerId: number): boolean {
  return isBrokerUsable(image, brokerId) && !p.offlineReplicas.includes(brokerId);
}

/** Registered unfenced brokers not in controlled shutdown, ascending id. */
export function usableBrokers(image: MetadataImage): BrokerImage[] {
  return [...image.brokers.values()].filter((b) => !b.fenced && !b.inControlledShutdown).sort((a, b) => a.brokerId - b.brokerId);
}

export function isOffline(p: PartitionImage): boolean {
  return p.leader === NO_LEADER;
}

/** Every partition as (topic, partition), topics by name. */
export function* allPartitions(image: MetadataImage): Generator<{ readonly topic: TopicImage; readonly partition: PartitionImage }> {
  const topics = [...image.topicsById.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const topic of topics) for (const partition of topic.partitions) yield { topic, partition };
}
