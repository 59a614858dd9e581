// The broker's read-only view of cluster metadata: ClusterMetadata implements it over the controller's
// MetadataImage (a node without --voters is a quorum of one voter on itself). Brokers react to
// MetadataChange events (create/delete logs, become leader) — one mechanism for both.
import type { NodeRole } from './node-config.js';
import type { TopicConfigOverrides } from './topic-config.js';

export interface BrokerNode {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | undefined;
  readonly roles: readonly NodeRole[];
  readonly fenced: boolean;
  /** The current registration's epoch (cluster mode); replication admits to the ISR only followers fetching with it. */
  readonly brokerEpoch?: number;
}

export interface PartitionInfo {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  /** Node id of the leader; -1 = offline. */
  readonly leader: number;
  /** Bumped on every leader change; fences stale leaders and clients. */
  readonly leaderEpoch: number;
  /** Bumped on every change of this partition's state (compare-and-set for AlterPartition). */
  readonly partitionEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** Replicas whose log failed on their broker (cluster metadata); absent = none known. */
  readonly offlineReplicas?: readonly number[];
}

export interface TopicInfo {
  readonly name: string;
  readonly topicId: string;
  readonly internal: boolean;
  /** Index i holds partition i. */
  readonly partitions: readonly PartitionInfo[];
  /** Overrides only; effective values come from resolveTopicConfig. */
  readonly configs: TopicConfigOverrides;
}

export interface ControllerInfo {
  /** -1 = no active controller known. */
  readonly leaderId: number;
  readonly term: number;
  /** Controller voters the active controller cannot reach (as it last reported; empty = none or unknown). */
  readonly unreachableVoters?: readonly number[];
}

export interface MetadataView {
  readonly clusterId: string;
  controller(): ControllerInfo;
  brokers(): readonly BrokerNode[];
  /** Sorted by name. */
  topics(): readonly TopicInfo[];
  topic(name: string): TopicInfo | undefined;
  partition(topic: string, partition: number): PartitionInfo | undefined;
  /**
   * Producer ids in [0, producerIdsEnd()) were allocated (in blocks, to some broker); none at or above
   * it. Only grows. Partition leaders refuse batches of other ids (replication/producer-admission.ts).
   */
  producerIdsEnd(): number;
}

/** What changed; applied by the broker after the change is durable in the metadata store. */
export type MetadataChange =
  | { readonly type: 'topicCreated'; readonly topic: TopicInfo }
  | { readonly type: 'topicDeleted'; readonly topic: TopicInfo }
  | { readonly type: 'partitionsAdded'; readonly topic: TopicInfo; readonly partitions: readonly PartitionInfo[] }
  | { readonly type: 'configsChanged'; readonly topic: TopicInfo };

export type MetadataListener = (change: MetadataChange) => Promise<void>;

export interface CreateTopicCommand {
  readonly name: string;
  /** -1 = broker default (num.partitions). */
  readonly numPartitions: number;
  /** -1 = broker default (default.replication.factor). */
  readonly replicationFactor: number;
  readonly configs: TopicConfigOverrides;
  readonly validateOnly: boolean;
  /** The requesting client's deadline (epoch ms): past it the change must not be made at all. */
  readonly deadlineMs?: number;
  /** Idempotency key of this item of the client's request (see admin.proto request_id). */
  readonly requestId?: string;
}

/** Options of a forwarded metadata change. */
export interface CommandOptions {
  /** The requesting client's deadline (epoch ms): past it the controller refuses to decide the change. */
  readonly deadlineMs?: number;
  /** Idempotency key of this item of the client's request (see admin.proto request_id). */
  readonly requestId?: string;
}

export interface AlterConfigOp {
  readonly name: string;
  readonly value: string;
  readonly op: 'SET' | 'DELETE';
}

/**
 * Metadata changes requested through the Admin API. Each resolves once the change is durable and
 * applied on this node, and rejects with an ApiError (TOPIC_ALREADY_EXISTS, INVALID_CONFIG, ...).
 * Later implemented by forwarding to the active controller.
 */
export interface MetadataCommands {
  createTopic(command: CreateTopicCommand): Promise<TopicInfo>;
  deleteTopic(name: string, options?: CommandOptions): Promise<void>;
  alterTopicConfigs(name: string, ops: readonly AlterConfigOp[], validateOnly: boolean, options?: CommandOptions): Promise<void>;
  createPartitions(name: string, totalCount: number, validateOnly: boolean, options?: CommandOptions): Promise<void>;
  /** A fresh producer id (idempotent producers). */
  allocateProducerId(): Promise<number>;
}
