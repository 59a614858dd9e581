// Topic configs reach the storage log: every key storage acts on (storage's LOG_CONFIG_KEYS) is a topic
// key whose value toLogConfig hands over, and each cleaner / index key changes what the log does — at
// open and after an AlterConfigs (updateConfig). Plus the cross-key rule min.compaction.lag.ms ≤
// max.compaction.lag.ms, refused with INVALID_CONFIG.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRecordBatches, encodeRecordBatch, validateBatches } from '@tributary/protocol';
import { LOG_CONFIG_KEYS, type LogConfig } from '@tributary/storage';
import { ConfigError, parseNodeConfig, resolveTopicConfig, TOPIC_CONFIG_KEYS, validateTopicConfigOverrides } from '../src/index.js';
import { storageLogFactory, toLogConfig } from '../src/adapters/storage-partition-log.js';
import type { PartitionLogPort } from '../src/partition-log.js';
import { silentLogger } from './helpers.js';

const broker = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/unused' } });
const T0_MS = 1_700_000_000_000;
const dirs: string[] = [];
const logs: PartitionLogPort[] = [];
afterEach(async () => {
  for (const log of logs.splice(0)) await log.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function openLog(overrides: Record<string, string>): Promise<{ log: PartitionLogPort; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'trib-topic-log-config-'));
  dirs.push(dir);
  const config = resolveTopicConfig(validateTopicConfigOverrides(overrides, broker), broker);
  const log = await storageLogFactory({ logger: silentLogger, nowMs: () => T0_MS })({ dir, topic: 't', partition: 0, config });
  logs.push(log);
  return { log, dir };
}

async function append(log: PartitionLogPort, key: string, value: string | null, timestampMs = T0_MS): Promise<void> {
  const batch = encodeRecordBatch({ producerId: -1, producerEpoch: -1, baseSequence: -1, records: [{ key: Buffer.from(key), value: value === null ? null : Buffer.from(value), timestamp: timestampMs }] });
  await log.appendAsLeader(batch, validateBatches(batch), 0, {});
  log.updateHighWatermark(log.logEndOffset);
}

/** Writes k=v1, k=v2, k=null (a tombstone), then other keys until the first segments are closed. */
async function writeCompactable(log: PartitionLogPort): Promise<void> {
  await append(log, 'k', 'v1');
  await append(log, 'k', 'v2');
  await append(log, 'k', null);
  for (let i = 0; i < 12; i++) await append(log, `fill${i}`, 'x');
}

/** The records of key k the log holds, oldest first (null: a tombstone). */
async function recordsOfK(log: PartitionLogPort): Promise<(string | null)[]> {
  const { records } = await log.read(0, 1 << 20, { maxOffset: log.logEndOffset, minOneBatch: true });
  return decodeRecordBatches(records).flatMap((b) => b.records).filter((r) => r.key?.toString() === 'k').map((r) => r.value?.toString() ?? null);
}

const COMPACTED = { 'cleanup.policy': 'compact', 'segment.bytes': '300' } as const;

describe('topic configs reach the storage log', () => {
  it('toLogConfig hands over every key storage acts on, with the topic\'s value', () => {
    // A value other than storage's default for each of storage's keys.
    const nonDefault: Record<keyof typeof LOG_CONFIG_KEYS, { value: string; expected: unknown }> = {
      'segment.bytes': { value: '4096', expected: 4096 },
      'segment.ms': { value: '60000', expected: 60_000 },
      'index.interval.bytes': { value: '128', expected: 128 },
      'segment.index.bytes': { value: '4096', expected: 4096 },
      'retention.bytes': { value: '1000000', expected: 1_000_000 },
      'retention.ms': { value: '3600000', expected: 3_600_000 },
      'flush.messages': { value: '10', expected: 10 },
      'flush.ms': { value: '1000', expected: 1000 },
      'max.message.bytes': { value: '2048', expected: 2048 },
      'cleanup.policy': { value: 'compact,delete', expected: 'compact,delete' },
      'delete.retention.ms': { value: '5000', expected: 5000 },
      'min.cleanable.dirty.ratio': { value: '0.25', expected: 0.25 },
      'min.compaction.lag.ms': { value: '7000', expected: 7000 },
      'max.compaction.lag.ms': { value: '9000', expected: 9000 },
    };
    const defaults = toLogConfig(resolveTopicConfig({}, broker));
    for (const [key, field] of Object.entries(LOG_CONFIG_KEYS) as [keyof typeof LOG_CONFIG_KEYS, keyof LogConfig][]) {
      expect(Object.hasOwn(TOPIC_CONFIG_KEYS, key), `${key} is a topic config key`).toBe(true);
      const { value, expected } = nonDefault[key];
      const config = toLogConfig(resolveTopicConfig(validateTopicConfigOverrides({ [key]: value }, broker), broker));
      expect(config[field], key).toBe(expected);
      expect(defaults[field], key).not.toBe(expected);
    }
    // The broker's "never" for max.compaction.lag.ms is storage's Infinity.
    expect(defaults.maxCompactionLagMs).toBe(Infinity);
  });

  it('delete.retention.ms: how long the cleaner keeps a tombstone', async () => {
    const byDefault = await openLog(COMPACTED);
    await writeCompactable(byDefault.log);
    await byDefault.log.compact(T0_MS + 10_000, { lastStableOffset: byDefault.log.highWatermark });
    expect(await recordsOfK(byDefault.log)).toEqual([null]); // superseded values gone; the tombstone kept (1 day)
    const short = await openLog({ ...COMPACTED, 'delete.retention.ms': '1000' });
    await writeCompactable(short.log);
    await short.log.compact(T0_MS + 10_000, { lastStableOffset: short.log.highWatermark });
    expect(await recordsOfK(short.log)).toEqual([]);
  });

  it('min.cleanable.dirty.ratio: whether the cleaner runs at all (at open and after an AlterConfigs)', async () => {
    const { log } = await openLog({ ...COMPACTED, 'min.cleanable.dirty.ratio': '1' });
    await writeCompactable(log);
    await log.compact(T0_MS + 10_000, { lastStableOffset: log.highWatermark });
    expect(await recordsOfK(log)).toEqual(['v1', 'v2', null]); // dirty ratio 1 is not above 1
    log.updateConfig(resolveTopicConfig(validateTopicConfigOverrides({ ...COMPACTED, 'min.cleanable.dirty.ratio': '0.9' }, broker), broker));
    await log.compact(T0_MS + 10_000, { lastStableOffset: log.highWatermark });
    expect(await recordsOfK(log)).toEqual([null]);
  });

  it('min.compaction.lag.ms: segments with newer records stay uncompacted', async () => {
    const lagging = await openLog({ ...COMPACTED, 'min.compaction.lag.ms': '3600000' });
    await writeCompactable(lagging.log);
    await lagging.log.compact(T0_MS + 10_000, { lastStableOffset: lagging.log.highWatermark });
    expect(await recordsOfK(lagging.log)).toEqual(['v1', 'v2', null]);
    await lagging.log.compact(T0_MS + 3_600_000 + 10_000, { lastStableOffset: lagging.log.highWatermark });
    expect(await recordsOfK(lagging.log)).toEqual([null]);
  });

  it('max.compaction.lag.ms: a dirty segment older than it is cleaned whatever the dirty ratio', async () => {
    const never = await openLog({ ...COMPACTED, 'min.cleanable.dirty.ratio': '1' });
    await writeCompactable(never.log);
    await never.log.compact(T0_MS + 10_000, { lastStableOffset: never.log.highWatermark });
    expect(await recordsOfK(never.log)).toEqual(['v1', 'v2', null]);
    const forced = await openLog({ ...COMPACTED, 'min.cleanable.dirty.ratio': '1', 'max.compaction.lag.ms': '5000' });
    await writeCompactable(forced.log);
    await forced.log.compact(T0_MS + 1000, { lastStableOffset: forced.log.highWatermark });
    expect(await recordsOfK(forced.log)).toEqual(['v1', 'v2', null]); // not yet 5 s old
    await forced.log.compact(T0_MS + 10_000, { lastStableOffset: forced.log.highWatermark });
    expect(await recordsOfK(forced.log)).toEqual([null]);
  });

  it('index.interval.bytes: how dense the offset index is', async () => {
    const indexBytes = async (overrides: Record<string, string>): Promise<number> => {
      const { log, dir } = await openLog(overrides);
      for (let i = 0; i < 8; i++) await append(log, `k${i}`, 'x');
      await log.close(); // writes the index files
      return (await stat(join(dir, '00000000000000000000.index'))).size;
    };
    expect(await indexBytes({})).toBe(0); // 8 small batches: less than 4096 bytes
    expect(await indexBytes({ 'index.interval.bytes': '0' })).toBeGreaterThanOrEqual(7 * 8);
  });

  it('segment.index.bytes: a segment rolls when its index is full', async () => {
    const segments = async (overrides: Record<string, string>): Promise<number> => {
      const { log, dir } = await openLog({ 'index.interval.bytes': '0', ...overrides });
      for (let i = 0; i < 8; i++) await append(log, `k${i}`, 'x');
      return (await readdir(dir)).filter((f) => f.endsWith('.log')).length;
    };
    expect(await segments({})).toBe(1);
    expect(await segments({ 'segment.index.bytes': '12' })).toBeGreaterThanOrEqual(4); // one entry per index
  });
});

describe('min.compaction.lag.ms ≤ max.compaction.lag.ms', () => {
  it('is refused (INVALID_CONFIG) between overrides, and against the broker default of the other', () => {
    expect(() => validateTopicConfigOverrides({ 'min.compaction.lag.ms': '5000', 'max.compaction.lag.ms': '1000' })).toThrow(/min.compaction.lag.ms \(5000\) must be ≤ max.compaction.lag.ms \(1000\)/);
    const lagged = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/unused', 'log.cleaner.min.compaction.lag.ms': '60000' } });
    expect(() => validateTopicConfigOverrides({ 'max.compaction.lag.ms': '1000' }, lagged)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(validateTopicConfigOverrides({ 'max.compaction.lag.ms': '1000' }, broker)).toEqual({ 'max.compaction.lag.ms': '1000' });
    expect(() => validateTopicConfigOverrides({ 'min.cleanable.dirty.ratio': '1.5' })).toThrow(/min.cleanable.dirty.ratio/);
    expect(() => validateTopicConfigOverrides({ 'min.cleanable.dirty.ratio': 'half' })).toThrow(/expected a decimal number/);
    // A node whose own defaults break the rule is refused at start.
    expect(() => parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/unused', 'log.cleaner.min.compaction.lag.ms': '60000', 'log.cleaner.max.compaction.lag.ms': '1000' } })).toThrow(ConfigError);
    // A topic validated elsewhere still opens its log here: min.compaction.lag.ms wins.
    const config = toLogConfig(resolveTopicConfig({ 'max.compaction.lag.ms': '1000' }, lagged));
    expect([config.minCompactionLagMs, config.maxCompactionLagMs]).toEqual([60_000, 60_000]);
  });
});
