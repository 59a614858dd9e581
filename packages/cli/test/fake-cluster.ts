// A small in-memory cluster behind the CLI's ports, for testing the command layer (flags, exit codes,
// output) without a broker. The end-to-end tests run the same commands against a real node.
import type { RecordView } from '../src/format/record.js';
import type { ClusterView, TopicView } from '../src/format/views.js';
import type {
  AdminPort,
  ClusterConnector,
  Connect,
  ConsumerPort,
  ConsumerSettings,
  ActiveProducer,
  TransactionDetails,
  TransactionsPort,
  ListOffsetsSpec,
  NewTopic,
  OutgoingRecord,
  ProducerPort,
  ProducerSettings,
  TopicPartitionOffset,
  TopicResult,
} from '../src/ports.js';

class TypedError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

interface FakeTopic {
  readonly name: string;
  partitions: RecordView[][];
  replicationFactor: number;
  configs: Record<string, string>;
}

export class FakeCluster {
  readonly topics = new Map<string, FakeTopic>();
  readonly producerSettings: ProducerSettings[] = [];
  /** Values whose send is rejected, to test failure counting. */
  readonly rejectValues = new Set<string>();
  clusterView: ClusterView = {
    clusterId: 'fake-cluster',
    controller: { leaderId: 1, term: 1 },
    nodes: [{ id: 1, roles: ['broker', 'controller'], address: '127.0.0.1:9092', fenced: false }],
  };
  brokersSeen: (readonly string[])[] = [];
  readonly consumerSettings: ConsumerSettings[] = [];
  /** Transactions as the coordinators know them. */
  readonly transactions = new Map<string, TransactionDetails>();
  /** `topic-partition` → producers with state there. */
  readonly producers = new Map<string, ActiveProducer[]>();
  /** AbortTransaction calls received. */
  readonly aborts: { topic: string; partition: number; producerId: number; producerEpoch: number; coordinatorEpoch: number }[] = [];
  readonly listFilters: unknown[] = [];
  private clockMs = 1_700_000_000_000;

  readonly connect: Connect = (brokers) => {
    this.brokersSeen.push(brokers);
    return this.connector();
  };

  append(topicName: string, partition: number, value: string, key: string | null = null, timestampMs?: number): void {
    const topic = this.topic(topicName);
    const log = topic.partitions[partition];
    if (log === undefined) throw new TypedError('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${partition}`);
    const enc = new TextEncoder();
    log.push({
      topic: topicName,
      partition,
      offset: log.length,
      timestampMs: timestampMs ?? (this.clockMs += 1),
      key: key === null ? null : enc.encode(key),
      value: enc.encode(value),
      headers: [],
    });
  }

  topic(name: string): FakeTopic {
    const topic = this.topics.get(name);
    if (topic === undefined) throw new TypedError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic: ${name}`);
    return topic;
  }

  private view(topic: FakeTopic): TopicView {
    return {
      name: topic.name,
      partitions: topic.partitions.map((log, partition) => ({
        partition,
        leader: 1,
        replicas: [1],
        isr: [1],
        leaderEpoch: 0,
        logStartOffset: 0,
        highWatermark: log.length,
      })),
      configs: { ...topic.configs },
    };
  }

  private connector(): ClusterConnector {
    return {
      admin: () => this.admin(), producer: (s) => this.producer(s),
      consumer: (settings = {}) => {
        this.consumerSettings.push(settings);
        return this.consumer();
      },
      transactions: () => this.transactionsPort(),
    };
  }

  private transactionsPort(): TransactionsPort {
    return {
      listTransactions: async (filters) => {
        this.listFilters.push(filters);
        return [...this.transactions.values()]
          .filter((t) => filters.states.length === 0 || filters.states.includes(t.state))
          .filter((t) => filters.producerIds.length === 0 || filters.producerIds.includes(t.producerId))
          .map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, state: t.state }));
      },
      describeTransaction: async (id) => {
        const t = this.transactions.get(id);
        if (t === undefined) throw new TypedError('TRANSACTIONAL_ID_NOT_FOUND', `describe transaction ${id}: TRANSACTIONAL_ID_NOT_FOUND`);
        return t;
      },
      describeProducers: async (topic, partition) => {
        this.topic(topic);
        return this.producers.get(`${topic}-${partition}`) ?? [];
      },
      abortTransaction: async (spec) => {
        this.aborts.push({ ...spec });
        const list = this.producers.get(`${spec.topic}-${spec.partition}`) ?? [];
        const i = list.findIndex((p) => p.producerId === spec.producerId && p.producerEpoch === spec.producerEpoch);
        if (i < 0) throw new TypedError('INVALID_PRODUCER_EPOCH', `no producer ${spec.producerId} with epoch ${spec.producerEpoch}`);
        list[i] = { ...list[i]!, currentTransactionStartOffset: null };
      },
      close: async () => undefined,
    };
  }

  private admin(): AdminPort {
    return {
      describeCluster: async () => this.clusterView,
      createTopics: async (topics: readonly NewTopic[]): Promise<TopicResult[]> =>
        topics.map((t) => {
          if (this.topics.has(t.name)) return { name: t.name, error: new TypedError('TOPIC_ALREADY_EXISTS', `topic ${t.name} already exists`) };
          const count = t.partitions < 0 ? 1 : t.partitions;
          this.topics.set(t.name, {
            name: t.name,
            partitions: Array.from({ length: count }, () => []),
            replicationFactor: t.replicationFactor < 0 ? 1 : t.replicationFactor,
            configs: { ...t.configs },
          });
          return { name: t.name };
        }),
      deleteTopics: async (names) =>
        names.map((name) =>
          this.topics.delete(name) ? { name } : { name, error: new TypedError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic: ${name}`) },
        ),
      listTopics: async () =>
        [...this.topics.values()].map((t) => ({ name: t.name, partitions: t.partitions.length, replicationFactor: t.replicationFactor, internal: false })),
      describeTopics: async (names) => names.map((name) => this.view(this.topic(name))),
      describeAllTopics: async () => [...this.topics.values()].map((t) => this.view(t)),
      alterTopicConfigs: async (name, change) => {
        const topic = this.topic(name);
        Object.assign(topic.configs, change.set);
        for (const key of change.delete) delete topic.configs[key];
      },
      createPartitions: async (name, total) => {
        const topic = this.topic(name);
        if (total <= topic.partitions.length) throw new TypedError('INVALID_PARTITIONS', `topic ${name} already has ${topic.partitions.length} partitions`);
        while (topic.partitions.length < total) topic.partitions.push([]);
      },
      listOffsets: async (name, partitions, spec: ListOffsetsSpec) => {
        const topic = this.topic(name);
        const result = new Map<number, number | undefined>();
        for (const partition of partitions) {
          const log = topic.partitions[partition] ?? [];
          if (spec.kind === 'earliest') result.set(partition, 0);
          else if (spec.kind === 'latest') result.set(partition, log.length);
          else result.set(partition, log.find((r) => r.timestampMs >= spec.timestampMs)?.offset);
        }
        return result;
      },
      close: async () => undefined,
    };
  }

  private producer(settings: ProducerSettings): ProducerPort {
    this.producerSettings.push(settings);
    let next = 0;
    const dec = new TextDecoder();
    return {
      send: async (record: OutgoingRecord) => {
        const topic = this.topic(record.topic);
        const value = record.value === null ? '' : dec.decode(record.value);
        if (this.rejectValues.has(value)) throw new TypedError('MESSAGE_TOO_LARGE', `record '${value}' rejected`);
        const partition = record.partition ?? next++ % topic.partitions.length;
        const log = topic.partitions[partition];
        if (log === undefined) throw new TypedError('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${partition}`);
        const offset = log.length;
        log.push({
          topic: record.topic,
          partition,
          offset,
          timestampMs: (this.clockMs += 1),
          key: record.key,
          value: record.value,
          headers: record.headers,
        });
        return { partition, offset };
      },
      flush: async () => undefined,
      close: async () => undefined,
    };
  }

  private consumer(): ConsumerPort {
    let topicName = '';
    const positions = new Map<number, number>();
    return {
      assign: async (topic: string, starts: readonly TopicPartitionOffset[]) => {
        topicName = topic;
        positions.clear();
        for (const { partition, offset } of starts) positions.set(partition, offset);
      },
      poll: async () => {
        const out: RecordView[] = [];
        for (const [partition, position] of positions) {
          const batch = (this.topic(topicName).partitions[partition] ?? []).slice(position, position + 100);
          out.push(...batch);
          positions.set(partition, position + batch.length);
        }
        if (out.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        return out;
      },
      position: async (_topic, partition) => positions.get(partition),
      close: async () => undefined,
    };
  }
}
