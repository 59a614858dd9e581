// The CLI's ports implemented with @tributary/client. The only file that knows the client's API.
import { Admin, Consumer, Producer, type ConsumerRecord, type ProducerOptions } from '@tributary/client';
import type { RecordView } from '../format/record.js';
import type { TopicView } from '../format/views.js';
import type { AdminPort, ClusterConnector, Connect, ConsumerPort, ListOffsetsSpec, ProducerPort, ProducerSettings, TopicResult, TransactionsPort } from '../ports.js';

/**
 * How long an admin call keeps retrying retriable failures (no broker reachable, no controller yet).
 * Shorter than the client's default: an operator at a prompt wants a clear error soon.
 */
export const CLI_API_TIMEOUT_MS = 15_000;
export const CLI_REQUEST_TIMEOUT_MS = 10_000;

export const connectTributary: Connect = (brokers) => {
  const common = { 'bootstrap.servers': [...brokers], 'client.id': 'tributary-cli' };
  const connector: ClusterConnector = {
    admin: () => adminPort(new Admin({ ...common, 'request.timeout.ms': CLI_REQUEST_TIMEOUT_MS, 'default.api.timeout.ms': CLI_API_TIMEOUT_MS })),
    producer: (settings) => producerPort(new Producer({ ...common, ...producerOptions(settings) })),
    consumer: (settings = {}) => consumerPort(new Consumer({ ...common, 'auto.offset.reset': 'earliest', 'isolation.level': settings.isolationLevel ?? 'read_uncommitted' })),
    transactions: () => transactionsPort(new Admin({ ...common, 'request.timeout.ms': CLI_REQUEST_TIMEOUT_MS, 'default.api.timeout.ms': CLI_API_TIMEOUT_MS })),
  };
  return connector;
};

function producerOptions(settings: ProducerSettings): ProducerOptions {
  // Explicit flags win over -X properties of the same name.
  const options: Record<string, unknown> = { ...(settings.properties ?? {}), acks: settings.acks };
  // Kafka's rule: idempotence needs acks=all; with acks 0/1 it is switched off rather than refused.
  if (settings.acks !== 'all' && options['enable.idempotence'] === undefined) options['enable.idempotence'] = false;
  if (settings.compression !== undefined) options['compression.type'] = settings.compression;
  if (settings.batchSizeBytes !== undefined) options['batch.size'] = settings.batchSizeBytes;
  if (settings.lingerMs !== undefined) options['linger.ms'] = settings.lingerMs;
  // The client validates the values (e.g. an unknown compression type) and names the bad field.
  return options as ProducerOptions;
}

function transactionsPort(admin: Admin): TransactionsPort {
  return {
    listTransactions: (filters) => admin.listTransactions({ states: filters.states, producerIds: filters.producerIds, durationFilterMs: filters.durationFilterMs }),
    describeTransaction: async (id) => {
      const [d] = await admin.describeTransactions([id]);
      return d!;
    },
    describeProducers: async (topic, partition) => (await admin.describeProducers([{ topic, partition }]))[0]?.activeProducers.slice() ?? [],
    abortTransaction: (spec) => admin.abortTransaction(spec),
    close: () => admin.close(),
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Runs `op` per name so one failure does not hide the others' outcomes. */
async function perName(names: readonly string[], op: (name: string) => Promise<unknown>): Promise<TopicResult[]> {
  return Promise.all(
    names.map(async (name) => {
      try {
        await op(name);
        return { name };
      } catch (error) {
        return { name, error: asError(error) };
      }
    }),
  );
}

function adminPort(admin: Admin): AdminPort {
  const describe = async (names: readonly string[]): Promise<TopicView[]> =>
    names.length === 0 ? [] : (await admin.describeTopics(names)).map((t) => ({ name: t.name, partitions: t.partitions, configs: t.configs }));
  return {
    describeCluster: () => admin.describeCluster(),
    createTopics: (topics) =>
      perName(
        topics.map((t) => t.name),
        (name) => {
          const topic = topics.find((t) => t.name === name);
          return admin.createTopics([
            {
              topic: name,
              numPartitions: topic?.partitions ?? -1,
              replicationFactor: topic?.replicationFactor ?? -1,
              configs: topic?.configs ?? {},
            },
          ]);
        },
      ),
    deleteTopics: (names) => perName(names, (name) => admin.deleteTopics([name])),
    listTopics: async () =>
      (await admin.listTopics()).map((t) => ({ name: t.name, partitions: t.numPartitions, replicationFactor: t.replicationFactor, internal: t.internal })),
    describeTopics: describe,
    describeAllTopics: async () => describe((await admin.listTopics({ includeInternal: true })).map((t) => t.name)),
    alterTopicConfigs: (name, change) =>
      admin.alterConfigs([
        {
          resource: { type: 'topic', name },
          configs: [
            ...Object.entries(change.set).map(([key, value]) => ({ name: key, value, op: 'set' as const })),
            ...change.delete.map((key) => ({ name: key, op: 'delete' as const })),
          ],
        },
      ]),
    createPartitions: (name, totalCount) => admin.createPartitions([{ topic: name, count: totalCount }]),
    listOffsets: async (topic, partitions, spec: ListOffsetsSpec) => {
      const clientSpec = spec.kind === 'timestamp' ? { timestamp: spec.timestampMs } : spec.kind;
      const listed = await admin.listOffsets(partitions.map((partition) => ({ topic, partition, spec: clientSpec })));
      return new Map(listed.map((o) => [o.partition, o.offset < 0 ? undefined : o.offset]));
    },
    close: () => admin.close(),
  };
}

function producerPort(producer: Producer): ProducerPort {
  return {
    send: async (record) => {
      const metadata = await producer.send({
        topic: record.topic,
        key: record.key === null ? null : Buffer.from(record.key.buffer, record.key.byteOffset, record.key.byteLength),
        value: record.value === null ? null : Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
        headers: record.headers.map((h) => ({ key: h.key, value: Buffer.from(h.value.buffer, h.value.byteOffset, h.value.byteLength) })),
        ...(record.partition === undefined ? {} : { partition: record.partition }),
      });
      return { partition: metadata.partition, offset: metadata.offset };
    },
    flush: () => producer.flush(),
    close: () => producer.close(),
  };
}

function consumerPort(consumer: Consumer): ConsumerPort {
  return {
    assign: async (topic, starts) => {
      consumer.assign(starts.map(({ partition }) => ({ topic, partition })));
      for (const { partition, offset } of starts) consumer.seek({ topic, partition }, offset);
    },
    poll: async (timeoutMs) => (await consumer.poll({ timeoutMs })).map(recordView),
    position: (topic, partition) => consumer.position({ topic, partition }),
    close: () => consumer.close(),
  };
}

function recordView(record: ConsumerRecord): RecordView {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestampMs: record.timestamp,
    key: record.key,
    value: record.value,
    headers: record.headers,
  };
}
