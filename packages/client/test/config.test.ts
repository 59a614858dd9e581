import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BATCH_SIZE_BYTES, DEFAULT_LINGER_MS, DEFAULT_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION,
  parseAdminConfig, parseConsumerConfig, parseProducerConfig,
} from '../src/config.js';
import { ConfigError } from '../src/errors.js';

function issuesOf(fn: () => unknown): Record<string, string> {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return Object.fromEntries((error as ConfigError).issues.map((i) => [i.field, i.message]));
  }
  throw new Error('expected a ConfigError');
}

describe('producer config', () => {
  it('defaults (Kafka\'s), with idempotence on and acks=all', () => {
    const c = parseProducerConfig();
    expect(c).toMatchObject({
      bootstrapServers: ['localhost:9092'], acks: -1, batchSizeBytes: DEFAULT_BATCH_SIZE_BYTES, lingerMs: DEFAULT_LINGER_MS,
      compressionType: 'none', maxInFlightRequestsPerConnection: DEFAULT_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION,
      enableIdempotence: true, deliveryTimeoutMs: 120_000, requestTimeoutMs: 30_000, bufferMemoryBytes: 33_554_432,
      maxBlockMs: 60_000, maxRequestSizeBytes: 1_048_576,
    });
  });

  it('accepts Kafka spellings: acks "all"/"1", numeric strings, comma-separated servers', () => {
    const c = parseProducerConfig({ acks: '1', 'linger.ms': '20' as unknown as number, 'bootstrap.servers': 'a:1, b:2', 'compression.type': 'lz4' });
    expect(c).toMatchObject({ acks: 1, lingerMs: 20, bootstrapServers: ['a:1', 'b:2'], compressionType: 'lz4', enableIdempotence: false });
    expect(parseProducerConfig({ acks: 'all' }).acks).toBe(-1);
  });

  it('names every bad field at once', () => {
    const issues = issuesOf(() => parseProducerConfig({
      acks: 2 as never, 'linger.ms': -1, 'batch.size': 1.5, 'compression.type': 'zstd' as never,
      'bootstrap.servers': 'nohostport', 'max.in.flight.requests.per.connection': 0, 'buffer.memory': 0,
      'enable.idempotence': 'maybe' as never, partitioner: 42 as never, 'linger.mss': 5,
    } as never));
    expect(Object.keys(issues).sort()).toEqual([
      'acks', 'batch.size', 'bootstrap.servers.0', 'buffer.memory', 'compression.type', 'enable.idempotence',
      'linger.ms', 'linger.mss', 'max.in.flight.requests.per.connection', 'partitioner',
    ].sort());
    expect(issues['linger.mss']).toMatch(/unknown config/);
    expect(issues['acks']).toMatch(/0, 1, -1 or "all"/);
  });

  it('checks cross-field rules', () => {
    expect(issuesOf(() => parseProducerConfig({ 'delivery.timeout.ms': 1_000, 'request.timeout.ms': 2_000 }))).toHaveProperty('delivery.timeout.ms');
    expect(issuesOf(() => parseProducerConfig({ 'enable.idempotence': true, acks: 1 }))).toHaveProperty('enable.idempotence');
    expect(issuesOf(() => parseProducerConfig({ 'enable.idempotence': true, 'max.in.flight.requests.per.connection': 6 }))).toHaveProperty('enable.idempotence');
    expect(issuesOf(() => parseProducerConfig({ 'retry.backoff.ms': 500, 'retry.backoff.max.ms': 100 }))).toHaveProperty('retry.backoff.max.ms');
  });

  it('defaulted idempotence turns itself off for settings it cannot honour', () => {
    expect(parseProducerConfig({ acks: 0 }).enableIdempotence).toBe(false);
    expect(parseProducerConfig({ 'max.in.flight.requests.per.connection': 10 }).enableIdempotence).toBe(false);
    expect(parseProducerConfig({ retries: 0 }).enableIdempotence).toBe(false);
  });
});

describe('consumer config', () => {
  it('defaults', () => {
    expect(parseConsumerConfig()).toMatchObject({
      fetchMinBytes: 1, fetchMaxWaitMs: 500, fetchMaxBytes: 52_428_800, maxPartitionFetchBytes: 1_048_576,
      maxPollRecords: 500, autoOffsetReset: 'latest', isolationLevel: 'read_uncommitted', groupId: undefined,
    });
  });

  it('names bad fields and the fetch.max.wait.ms < request.timeout.ms rule', () => {
    const issues = issuesOf(() => parseConsumerConfig({
      'auto.offset.reset': 'smallest' as never, 'isolation.level': 'x' as never, 'max.poll.records': 0, 'fetch.max.bytes': -5,
    }));
    expect(Object.keys(issues).sort()).toEqual(['auto.offset.reset', 'fetch.max.bytes', 'isolation.level', 'max.poll.records']);
    expect(issuesOf(() => parseConsumerConfig({ 'fetch.max.wait.ms': 30_000 }))).toHaveProperty('fetch.max.wait.ms');
  });
});

describe('admin config', () => {
  it('defaults and rules', () => {
    expect(parseAdminConfig()).toMatchObject({ defaultApiTimeoutMs: 60_000, requestTimeoutMs: 30_000 });
    expect(issuesOf(() => parseAdminConfig({ 'default.api.timeout.ms': 10, 'request.timeout.ms': 100 }))).toHaveProperty('default.api.timeout.ms');
    expect(issuesOf(() => parseAdminConfig({ 'linger.ms': 5 } as never))).toHaveProperty('linger.ms');
  });
});
