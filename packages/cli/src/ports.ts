// What the commands need from a cluster, in the CLI's own terms. The real implementation wraps
// @tributary/client (adapters/tributary-client.ts); tests may pass their own through RunIo.connect.
import type { RecordView } from './format/record.js';
import type { ClusterView, TopicSummary, TopicView } from './format/views.js';

export type Acks = '0' | '1' | 'all';

export interface ProducerSettings {
  readonly acks: Acks;
  readonly compression?: string | undefined;
  readonly batchSizeBytes?: number | undefined;
  readonly lingerMs?: number | undefined;
  /** Any other client producer property by its Kafka name (`-X buffer.memory=67108864`); the client validates it. */
  readonly properties?: Readonly<Record<string, string>> | undefined;
}

export interface OutgoingRecord {
  readonly topic: string;
  readonly partition?: number | undefined;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly { readonly key: string; readonly value: Uint8Array }[];
}

export interface Acknowledgement {
  readonly partition: number;
  readonly offset: number;
}

export interface ProducerPort {
  send(record: OutgoingRecord): Promise<Acknowledgement>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface TopicPartitionOffset {
  readonly partition: number;
  readonly offset: number;
}

export interface ConsumerPort {
  /** Replaces the assignment and sets each partition's next offset to read. */
  assign(topic: string, starts: readonly TopicPartitionOffset[]): Promise<void>;
  /** Records in offset order per partition; empty when nothing arrived within `timeoutMs`. */
  poll(timeoutMs: number): Promise<RecordView[]>;
  /** The next offset the consumer will read, when known (skips over gaps and control records). */
  position(topic: string, partition: number): Promise<number | undefined>;
  close(): Promise<void>;
}

export type ListOffsetsSpec = { readonly kind: 'earliest' } | { readonly kind: 'latest' } | { readonly kind: 'timestamp'; readonly timestampMs: number };

export interface NewTopic {
  readonly name: string;
  /** -1 = the broker's num.partitions */
  readonly partitions: number;
  /** -1 = the broker's default.replication.factor */
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
}

export interface TopicResult {
  readonly name: string;
  /** Undefined on success; the typed error otherwise. */
  readonly error?: Error | undefined;
}

export interface AdminPort {
  describeCluster(): Promise<ClusterView>;
  createTopics(topics: readonly NewTopic[]): Promise<TopicResult[]>;
  deleteTopics(names: readonly string[]): Promise<TopicResult[]>;
  listTopics(): Promise<TopicSummary[]>;
  /** Throws a typed error (UNKNOWN_TOPIC_OR_PARTITION) when a topic does not exist. */
  describeTopics(names: readonly string[]): Promise<TopicView[]>;
  /** Every topic's description (for `cluster health`). */
  describeAllTopics(): Promise<TopicView[]>;
  alterTopicConfigs(name: string, change: { set: Readonly<Record<string, string>>; delete: readonly string[] }): Promise<void>;
  createPartitions(name: string, totalCount: number): Promise<void>;
  /** Offset per partition; `undefined` when no record matches a timestamp. */
  listOffsets(topic: string, partitions: readonly number[], spec: ListOffsetsSpec): Promise<Map<number, number | undefined>>;
  close(): Promise<void>;
}

export interface ConsumerSettings {
  /** Default read_uncommitted. read_committed: records of aborted transactions are skipped, and reads stop at the last stable offset. */
  readonly isolationLevel?: 'read_uncommitted' | 'read_committed' | undefined;
}

export interface TransactionSummary {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly state: string;
}

export interface TransactionDetails {
  readonly transactionalId: string;
  readonly state: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly transactionTimeoutMs: number;
  /** null when no transaction is open. */
  readonly transactionStartTimeMs: number | null;
  readonly topicPartitions: readonly { readonly topic: string; readonly partition: number }[];
}

export interface ActiveProducer {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly lastSequence: number;
  readonly lastTimestampMs: number;
  readonly coordinatorEpoch: number;
  /** First offset of the producer's open transaction on the partition; null when none is open. */
  readonly currentTransactionStartOffset: number | null;
}

export interface TransactionsPort {
  listTransactions(filters: { readonly states: readonly string[]; readonly producerIds: readonly number[]; readonly durationFilterMs: number }): Promise<TransactionSummary[]>;
  /** Throws a typed error (TRANSACTIONAL_ID_NOT_FOUND) for an unknown id. */
  describeTransaction(transactionalId: string): Promise<TransactionDetails>;
  describeProducers(topic: string, partition: number): Promise<ActiveProducer[]>;
  abortTransaction(spec: { readonly topic: string; readonly partition: number; readonly producerId: number; readonly producerEpoch: number; readonly coordinatorEpoch: number }): Promise<void>;
  close(): Promise<void>;
}

/** One connection context per command run; everything it creates is closed by the runner. */
export interface ClusterConnector {
  admin(): AdminPort;
  producer(settings: ProducerSettings): ProducerPort;
  consumer(settings?: ConsumerSettings): ConsumerPort;
  transactions(): TransactionsPort;
}

export type Connect = (brokers: readonly string[]) => ClusterConnector;
