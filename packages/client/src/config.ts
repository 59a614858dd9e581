// Client configuration: one public style, Kafka's property names ('linger.ms', 'bootstrap.servers'),
// exactly as a Java/librdkafka/node-rdkafka user writes them. Each client validates its options once,
// here, into a readonly camelCase config with units in the names; every bad field and every broken
// cross-field rule is named in one ConfigError.
import {
  DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES, HTTP2_FLOW_CONTROL_WINDOW_BYTES_MAX, HTTP2_FLOW_CONTROL_WINDOW_BYTES_MIN,
} from '@tributary/protocol';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { Partitioner } from './partitioner.js';

// ---- defaults (units in the names) -------------------------------------------------------------

export const DEFAULT_BOOTSTRAP_SERVERS = 'localhost:9092';
export const DEFAULT_CLIENT_ID = 'tributary-client';
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRY_BACKOFF_MS = 100;
export const DEFAULT_RETRY_BACKOFF_MAX_MS = 1_000;
export const DEFAULT_METADATA_MAX_AGE_MS = 300_000;
export const DEFAULT_API_TIMEOUT_MS = 60_000;

export const DEFAULT_ACKS = -1; // 'all'
export const DEFAULT_BATCH_SIZE_BYTES = 16_384;
export const DEFAULT_LINGER_MS = 5;
export const DEFAULT_COMPRESSION_TYPE = 'none';
export const DEFAULT_RETRIES = 2_147_483_647;
export const DEFAULT_DELIVERY_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION = 5;
export const DEFAULT_BUFFER_MEMORY_BYTES = 33_554_432;
export const DEFAULT_MAX_BLOCK_MS = 60_000;
export const DEFAULT_MAX_REQUEST_SIZE_BYTES = 1_048_576;
export const DEFAULT_ENABLE_IDEMPOTENCE = true;
/** How long the coordinator lets a transaction stay open before aborting it (Kafka's default). */
export const DEFAULT_TRANSACTION_TIMEOUT_MS = 60_000;
/** With idempotence the broker keeps 5 batches per producer and partition; more in flight breaks ordering. */
export const MAX_IN_FLIGHT_WITH_IDEMPOTENCE = 5;

export const DEFAULT_FETCH_MIN_BYTES = 1;
export const DEFAULT_FETCH_MAX_WAIT_MS = 500;
export const DEFAULT_FETCH_MAX_BYTES = 52_428_800;
export const DEFAULT_MAX_PARTITION_FETCH_BYTES = 1_048_576;
export const DEFAULT_MAX_POLL_RECORDS = 500;
export const DEFAULT_AUTO_OFFSET_RESET = 'latest';
export const DEFAULT_ISOLATION_LEVEL = 'read_uncommitted';
// Consumer groups (Kafka 3.x defaults).
export const DEFAULT_SESSION_TIMEOUT_MS = 45_000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000;
export const DEFAULT_MAX_POLL_INTERVAL_MS = 300_000;
export const DEFAULT_ENABLE_AUTO_COMMIT = true;
export const DEFAULT_AUTO_COMMIT_INTERVAL_MS = 5_000;
/** Like Kafka 3.x: range is used until every member also lists cooperative-sticky first. */
export const DEFAULT_PARTITION_ASSIGNMENT_STRATEGY: readonly string[] = ['range', 'cooperative-sticky'];
export const ASSIGNMENT_STRATEGIES = ['range', 'roundrobin', 'sticky', 'cooperative-sticky'] as const;

const INT32_MAX = 2_147_483_647;

export type CompressionType = 'none' | 'gzip' | 'lz4';
export type Acks = 0 | 1 | -1;
export type AutoOffsetReset = 'earliest' | 'latest' | 'none';
export type IsolationLevel = 'read_uncommitted' | 'read_committed';

// ---- user-facing option objects (Kafka names) ---------------------------------------------------

export interface CommonOptions {
  /** Comma-separated `host:port` list, or an array of them. Any one reachable broker is enough. */
  'bootstrap.servers'?: string | readonly string[];
  'client.id'?: string;
  'request.timeout.ms'?: number;
  'retry.backoff.ms'?: number;
  'retry.backoff.max.ms'?: number;
  'metadata.max.age.ms'?: number;
  /**
   * HTTP/2 receive window this client announces to brokers, per stream and per connection, bytes
   * (Tributary's; Kafka has no such key). Default 4 MiB; 65535 is HTTP/2's own default.
   */
  'http2.flow.control.window.bytes'?: number;
}

export interface ProducerOptions extends CommonOptions {
  acks?: 0 | 1 | -1 | 'all' | '0' | '1' | '-1';
  'batch.size'?: number;
  'linger.ms'?: number;
  'compression.type'?: CompressionType;
  retries?: number;
  'delivery.timeout.ms'?: number;
  'max.in.flight.requests.per.connection'?: number;
  'buffer.memory'?: number;
  'max.block.ms'?: number;
  'max.request.size'?: number;
  'enable.idempotence'?: boolean;
  /**
   * Makes the producer transactional (initTransactions, beginTransaction, commitTransaction...). One
   * id per producer instance that must not write twice: a new producer with the same id fences the old.
   * Needs idempotence (it cannot be turned off).
   */
  'transactional.id'?: string;
  /** How long a transaction may stay open before the coordinator aborts it (capped by the broker's transaction.max.timeout.ms). */
  'transaction.timeout.ms'?: number;
  /** Not a Kafka string property: a function `(topic, key, numPartitions) => partition`. */
  partitioner?: Partitioner;
}

export interface ConsumerOptions extends CommonOptions {
  /** The consumer group (subscribe/commit); manual assignment ignores it. */
  'group.id'?: string;
  /** Static membership: a restart with the same id keeps the assignment without a rebalance. */
  'group.instance.id'?: string;
  'session.timeout.ms'?: number;
  'heartbeat.interval.ms'?: number;
  /** Most time between polls before the member is considered stuck (the rebalance timeout). */
  'max.poll.interval.ms'?: number;
  'enable.auto.commit'?: boolean;
  'auto.commit.interval.ms'?: number;
  /** Preferred first; the coordinator picks the most voted strategy all members support. */
  'partition.assignment.strategy'?: readonly (typeof ASSIGNMENT_STRATEGIES[number])[];
  'fetch.min.bytes'?: number;
  'fetch.max.wait.ms'?: number;
  'fetch.max.bytes'?: number;
  'max.partition.fetch.bytes'?: number;
  'max.poll.records'?: number;
  'auto.offset.reset'?: AutoOffsetReset;
  'isolation.level'?: IsolationLevel;
}

export interface AdminOptions extends CommonOptions {
  /** Overall time an admin call may take, retries included. */
  'default.api.timeout.ms'?: number;
}

// ---- parsed, readonly configs (camelCase, units last) ------------------------------------------

export interface CommonConfig {
  readonly bootstrapServers: readonly string[];
  readonly clientId: string;
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  readonly metadataMaxAgeMs: number;
  readonly http2FlowControlWindowBytes: number;
}

export interface ProducerConfig extends CommonConfig {
  readonly acks: Acks;
  readonly batchSizeBytes: number;
  readonly lingerMs: number;
  readonly compressionType: CompressionType;
  readonly retries: number;
  readonly deliveryTimeoutMs: number;
  readonly maxInFlightRequestsPerConnection: number;
  readonly bufferMemoryBytes: number;
  readonly maxBlockMs: number;
  readonly maxRequestSizeBytes: number;
  readonly enableIdempotence: boolean;
  /** undefined = not transactional. */
  readonly transactionalId: string | undefined;
  readonly transactionTimeoutMs: number;
  readonly partitioner: Partitioner | undefined;
}

export interface ConsumerConfig extends CommonConfig {
  readonly groupId: string | undefined;
  readonly groupInstanceId: string | undefined;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxPollIntervalMs: number;
  readonly enableAutoCommit: boolean;
  readonly autoCommitIntervalMs: number;
  readonly partitionAssignmentStrategy: readonly string[];
  readonly fetchMinBytes: number;
  readonly fetchMaxWaitMs: number;
  readonly fetchMaxBytes: number;
  readonly maxPartitionFetchBytes: number;
  readonly maxPollRecords: number;
  readonly autoOffsetReset: AutoOffsetReset;
  readonly isolationLevel: IsolationLevel;
}

export interface AdminConfig extends CommonConfig {
  readonly defaultApiTimeoutMs: number;
}

// ---- schema helpers ---------------------------------------------------------------------------

/** An integer in [min, max]; numeric strings are accepted (as from env vars or properties files). */
function int(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' })
      .min(min, { error: `must be >= ${min}` }).max(max, { error: `must be <= ${max}` }),
  );
}

function bool() {
  return z.preprocess(
    (v) => (v === 'true' ? true : v === 'false' ? false : v),
    z.boolean({ error: 'must be true or false' }),
  );
}

const HOST_PORT = /^(\[[0-9a-fA-F:.%]+\]|[^:\s\[\]]+):(\d{1,5})$/;

const bootstrapServers = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
  z.array(z.string().regex(HOST_PORT, { error: 'each entry must be host:port' }), {
    error: 'must be a comma-separated host:port list or an array of host:port',
  }).min(1, { error: 'must name at least one host:port' }),
);

const commonShape = {
  'bootstrap.servers': bootstrapServers.default([DEFAULT_BOOTSTRAP_SERVERS]),
  'client.id': z.string({ error: 'must be a string' }).default(DEFAULT_CLIENT_ID),
  'request.timeout.ms': int(1, INT32_MAX).default(DEFAULT_REQUEST_TIMEOUT_MS),
  'retry.backoff.ms': int(0, INT32_MAX).default(DEFAULT_RETRY_BACKOFF_MS),
  'retry.backoff.max.ms': int(0, INT32_MAX).default(DEFAULT_RETRY_BACKOFF_MAX_MS),
  'metadata.max.age.ms': int(0, INT32_MAX).default(DEFAULT_METADATA_MAX_AGE_MS),
  'http2.flow.control.window.bytes': int(HTTP2_FLOW_CONTROL_WINDOW_BYTES_MIN, HTTP2_FLOW_CONTROL_WINDOW_BYTES_MAX).default(DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES),
};

const acks = z.preprocess(
  (v) => (v === 'all' || v === '-1' ? -1 : v === '0' ? 0 : v === '1' ? 1 : v),
  z.union([z.literal(0), z.literal(1), z.literal(-1)], { error: 'must be 0, 1, -1 or "all"' }),
);

const producerSchema = z.strictObject({
  ...commonShape,
  acks: acks.default(DEFAULT_ACKS),
  'batch.size': int(0, INT32_MAX).default(DEFAULT_BATCH_SIZE_BYTES),
  'linger.ms': int(0, INT32_MAX).default(DEFAULT_LINGER_MS),
  'compression.type': z.enum(['none', 'gzip', 'lz4'], { error: 'must be none, gzip or lz4' })
    .default(DEFAULT_COMPRESSION_TYPE),
  retries: int(0, INT32_MAX).default(DEFAULT_RETRIES),
  'delivery.timeout.ms': int(1, INT32_MAX).default(DEFAULT_DELIVERY_TIMEOUT_MS),
  'max.in.flight.requests.per.connection': int(1, 1_000)
    .default(DEFAULT_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION),
  'buffer.memory': int(1).default(DEFAULT_BUFFER_MEMORY_BYTES),
  'max.block.ms': int(0, INT32_MAX).default(DEFAULT_MAX_BLOCK_MS),
  'max.request.size': int(1, INT32_MAX).default(DEFAULT_MAX_REQUEST_SIZE_BYTES),
  'enable.idempotence': bool().optional(),
  'transactional.id': z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).optional(),
  'transaction.timeout.ms': int(1, INT32_MAX).default(DEFAULT_TRANSACTION_TIMEOUT_MS),
  partitioner: z.custom<Partitioner>((v) => typeof v === 'function', {
    error: 'must be a function (topic, key, numPartitions) => partition',
  }).optional(),
});

const consumerSchema = z.strictObject({
  ...commonShape,
  'group.id': z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).optional(),
  'group.instance.id': z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).optional(),
  'session.timeout.ms': int(1, INT32_MAX).default(DEFAULT_SESSION_TIMEOUT_MS),
  'heartbeat.interval.ms': int(1, INT32_MAX).default(DEFAULT_HEARTBEAT_INTERVAL_MS),
  'max.poll.interval.ms': int(1, INT32_MAX).default(DEFAULT_MAX_POLL_INTERVAL_MS),
  'enable.auto.commit': bool().default(DEFAULT_ENABLE_AUTO_COMMIT),
  'auto.commit.interval.ms': int(0, INT32_MAX).default(DEFAULT_AUTO_COMMIT_INTERVAL_MS),
  'partition.assignment.strategy': z.array(z.enum(ASSIGNMENT_STRATEGIES, { error: `must be one of ${ASSIGNMENT_STRATEGIES.join(', ')}` }))
    .min(1, { error: 'must name at least one strategy' }).default([...DEFAULT_PARTITION_ASSIGNMENT_STRATEGY] as (typeof ASSIGNMENT_STRATEGIES[number])[]),
  'fetch.min.bytes': int(0, INT32_MAX).default(DEFAULT_FETCH_MIN_BYTES),
  'fetch.max.wait.ms': int(0, INT32_MAX).default(DEFAULT_FETCH_MAX_WAIT_MS),
  'fetch.max.bytes': int(1, INT32_MAX).default(DEFAULT_FETCH_MAX_BYTES),
  'max.partition.fetch.bytes': int(1, INT32_MAX).default(DEFAULT_MAX_PARTITION_FETCH_BYTES),
  'max.poll.records': int(1, INT32_MAX).default(DEFAULT_MAX_POLL_RECORDS),
  'auto.offset.reset': z.enum(['earliest', 'latest', 'none'], { error: 'must be earliest, latest or none' })
    .default(DEFAULT_AUTO_OFFSET_RESET),
  'isolation.level': z.enum(['read_uncommitted', 'read_committed'], {
    error: 'must be read_uncommitted or read_committed',
  }).default(DEFAULT_ISOLATION_LEVEL),
});

const adminSchema = z.strictObject({
  ...commonShape,
  'default.api.timeout.ms': int(1, INT32_MAX).default(DEFAULT_API_TIMEOUT_MS),
});

function issuesOf(error: z.ZodError): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: key, message: 'unknown config (misspelt?)' });
    } else {
      out.push({ field: issue.path.map(String).join('.') || '(options)', message: issue.message });
    }
  }
  return out;
}

function parseWith<S extends z.ZodType>(kind: string, schema: S, options: unknown): z.output<S> {
  const result = schema.safeParse(options ?? {});
  if (!result.success) throw new ConfigError(kind, issuesOf(result.error));
  return result.data;
}

type CommonParsed = z.output<z.ZodObject<typeof commonShape>>;

function commonConfig(p: CommonParsed): CommonConfig {
  return {
    bootstrapServers: p['bootstrap.servers'],
    clientId: p['client.id'],
    requestTimeoutMs: p['request.timeout.ms'],
    retryBackoffMs: p['retry.backoff.ms'],
    retryBackoffMaxMs: p['retry.backoff.max.ms'],
    metadataMaxAgeMs: p['metadata.max.age.ms'],
    http2FlowControlWindowBytes: p['http2.flow.control.window.bytes'],
  };
}

function commonRules(c: CommonConfig, issues: ConfigIssue[]): void {
  if (c.retryBackoffMaxMs < c.retryBackoffMs) {
    issues.push({ field: 'retry.backoff.max.ms', message: `must be >= retry.backoff.ms (${c.retryBackoffMs})` });
  }
}

/**
 * Validates producer options. Cross-field rules (Kafka's): `delivery.timeout.ms >= linger.ms +
 * request.timeout.ms`; an explicit `enable.idempotence=true` needs `acks=all`, `retries > 0` and
 * `max.in.flight.requests.per.connection <= 5`. When idempotence is only defaulted on, a conflicting
 * setting turns it off instead (as the Java client does since 3.2). `transactional.id` needs
 * idempotence: an explicit `enable.idempotence=false`, or a setting idempotence cannot live with, is an
 * error then (never silently non-transactional).
 */
export function parseProducerConfig(options: ProducerOptions = {}): ProducerConfig {
  const p = parseWith('producer', producerSchema, options);
  const common = commonConfig(p);
  const issues: ConfigIssue[] = [];
  commonRules(common, issues);
  const explicitIdempotence = p['enable.idempotence'];
  const idempotenceCompatible = p.acks === -1 && p.retries > 0
    && p['max.in.flight.requests.per.connection'] <= MAX_IN_FLIGHT_WITH_IDEMPOTENCE;
  if (explicitIdempotence === true && !idempotenceCompatible) {
    issues.push({
      field: 'enable.idempotence',
      message: 'needs acks=all, retries > 0 and max.in.flight.requests.per.connection <= 5',
    });
  }
  const transactionalId = p['transactional.id'];
  if (transactionalId !== undefined && explicitIdempotence === false) {
    issues.push({ field: 'transactional.id', message: 'needs idempotence: remove enable.idempotence=false' });
  } else if (transactionalId !== undefined && explicitIdempotence !== true && !idempotenceCompatible) {
    issues.push({
      field: 'transactional.id',
      message: 'needs idempotence, i.e. acks=all, retries > 0 and max.in.flight.requests.per.connection <= 5',
    });
  }
  if (p['delivery.timeout.ms'] < p['linger.ms'] + p['request.timeout.ms']) {
    issues.push({
      field: 'delivery.timeout.ms',
      message: `must be >= linger.ms + request.timeout.ms (${p['linger.ms'] + p['request.timeout.ms']})`,
    });
  }
  if (issues.length > 0) throw new ConfigError('producer', issues);
  return {
    ...common,
    acks: p.acks,
    batchSizeBytes: p['batch.size'],
    lingerMs: p['linger.ms'],
    compressionType: p['compression.type'],
    retries: p.retries,
    deliveryTimeoutMs: p['delivery.timeout.ms'],
    maxInFlightRequestsPerConnection: p['max.in.flight.requests.per.connection'],
    bufferMemoryBytes: p['buffer.memory'],
    maxBlockMs: p['max.block.ms'],
    maxRequestSizeBytes: p['max.request.size'],
    enableIdempotence: explicitIdempotence ?? (transactionalId !== undefined || (DEFAULT_ENABLE_IDEMPOTENCE && idempotenceCompatible)),
    transactionalId,
    transactionTimeoutMs: p['transaction.timeout.ms'],
    partitioner: p.partitioner,
  };
}

/** Validates consumer options. Cross-field rule: `fetch.max.wait.ms < request.timeout.ms`. */
export function parseConsumerConfig(options: ConsumerOptions = {}): ConsumerConfig {
  const p = parseWith('consumer', consumerSchema, options);
  const common = commonConfig(p);
  const issues: ConfigIssue[] = [];
  commonRules(common, issues);
  if (p['fetch.max.wait.ms'] >= p['request.timeout.ms']) {
    issues.push({ field: 'fetch.max.wait.ms', message: `must be < request.timeout.ms (${p['request.timeout.ms']})` });
  }
  if (p['heartbeat.interval.ms'] >= p['session.timeout.ms']) {
    issues.push({ field: 'heartbeat.interval.ms', message: `must be < session.timeout.ms (${p['session.timeout.ms']})` });
  }
  if (issues.length > 0) throw new ConfigError('consumer', issues);
  return {
    ...common,
    groupId: p['group.id'],
    groupInstanceId: p['group.instance.id'],
    sessionTimeoutMs: p['session.timeout.ms'],
    heartbeatIntervalMs: p['heartbeat.interval.ms'],
    maxPollIntervalMs: p['max.poll.interval.ms'],
    enableAutoCommit: p['enable.auto.commit'],
    autoCommitIntervalMs: p['auto.commit.interval.ms'],
    partitionAssignmentStrategy: p['partition.assignment.strategy'],
    fetchMinBytes: p['fetch.min.bytes'],
    fetchMaxWaitMs: p['fetch.max.wait.ms'],
    fetchMaxBytes: p['fetch.max.bytes'],
    maxPartitionFetchBytes: p['max.partition.fetch.bytes'],
    maxPollRecords: p['max.poll.records'],
    autoOffsetReset: p['auto.offset.reset'],
    isolationLevel: p['isolation.level'],
  };
}

export function parseAdminConfig(options: AdminOptions = {}): AdminConfig {
  const p = parseWith('admin', adminSchema, options);
  const common = commonConfig(p);
  const issues: ConfigIssue[] = [];
  commonRules(common, issues);
  if (p['default.api.timeout.ms'] < p['request.timeout.ms']) {
    issues.push({ field: 'default.api.timeout.ms', message: `must be >= request.timeout.ms (${p['request.timeout.ms']})` });
  }
  if (issues.length > 0) throw new ConfigError('admin', issues);
  return { ...common, defaultApiTimeoutMs: p['default.api.timeout.ms'] };
}
