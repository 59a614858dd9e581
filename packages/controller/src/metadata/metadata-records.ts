// The metadata log's records as domain types (readonly, plain numbers). The wire form is
// tributary.internal.v1.MetadataRecord (proto/tributary/internal/v1/metadata.proto); metadata-codec.ts
// converts. One Raft entry carries one batch of these, applied atomically.

/** No leader: the partition is offline. */
export const NO_LEADER = -1;

export interface BrokerEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface RegisterBrokerRecord {
  readonly type: 'registerBroker';
  readonly brokerId: number;
  readonly incarnationId: string;
  /**
   * 0 = "the offset of this record": the controller cannot know the Raft index a proposal will get,
   * so it writes 0 and every node stamps the batch's offset on apply (identical everywhere). Snapshot
   * records carry the real epoch (> 0).
   */
  readonly brokerEpoch: number;
  readonly endpoint: BrokerEndpoint;
  readonly rack: string | undefined;
  readonly roles: readonly string[];
  readonly fenced: boolean;
}

export interface UnregisterBrokerRecord {
  readonly type: 'unregisterBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface FenceBrokerRecord {
  readonly type: 'fenceBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface UnfenceBrokerRecord {
  readonly type: 'unfenceBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface BrokerShutdownRecord {
  readonly type: 'brokerShutdown';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface TopicRecord {
  readonly type: 'topic';
  readonly name: string;
  readonly topicId: string;
  readonly internal: boolean;
}

export interface PartitionRecord {
  readonly type: 'partition';
  readonly topicId: string;
  readonly partition: number;
  /** The first is the preferred leader. */
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** NO_LEADER (-1) = offline. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /** Awaiting a recovery election (see PartitionImage.recovering); absent = false. */
  readonly recovering?: boolean;
  /** See PartitionImage.offlineReplicas; absent = none. */
  readonly offlineReplicas?: readonly number[];
}

/**
 * A change to one partition; undefined fields are unchanged. Every change sets partitionEpoch to the
 * old value + 1; a leader change (including to/from NO_LEADER) sets leaderEpoch to the old value + 1,
 * any other change keeps it.
 */
export interface PartitionChangeRecord {
  readonly type: 'partitionChange';
  readonly topicId: string;
  readonly partition: number;
  readonly leader: number | undefined;
  readonly isr: readonly number[] | undefined;
  readonly replicas: readonly number[] | undefined;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /**
   * The new leader was not in the previous ISR: unclean.leader.election.enable (data may be lost), or a
   * recovery election that found a longer log than the ISR member's.
   */
  readonly unclean: boolean;
  /** Sets or clears PartitionImage.recovering; undefined = unchanged. */
  readonly recovering?: boolean;
  /**
   * Replaces PartitionImage.offlineReplicas; undefined = unchanged (but for replicas a `replicas`
   * change removes, which leave it).
   */
  readonly offlineReplicas?: readonly number[];
}

export type ConfigResourceType = 'topic' | 'broker' | 'cluster';

export interface ConfigRecord {
  readonly type: 'config';
  readonly resourceType: ConfigResourceType;
  /** Topic name, broker id as a decimal string, or '' for 'cluster'. */
  readonly resourceName: string;
  readonly name: string;
  /** undefined = delete (back to the default). */
  readonly value: string | undefined;
}

/**
 * [firstProducerId, firstProducerId + size) handed to one broker. Snapshots write the position alone as
 * brokerId -1, size 0 ("the next block starts at firstProducerId"), as Kafka's ProducerIdsRecord does.
 */
export interface ProducerIdsBlockRecord {
  readonly type: 'producerIdsBlock';
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly firstProducerId: number;
  readonly size: number;
}

export interface RemoveTopicRecord {
  readonly type: 'removeTopic';
  readonly topicId: string;
}

export type MetadataRecord =
  | RegisterBrokerRecord
  | UnregisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | BrokerShutdownRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | ConfigRecord
  | ProducerIdsBlockRecord
  | RemoveTopicRecord;

export type MetadataRecordType = MetadataRecord['type'];
