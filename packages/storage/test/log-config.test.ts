import { describe, expect, it } from 'vitest';
import { DEFAULT_LOG_CONFIG, fsyncAlways, isFsyncAlways, LOG_CONFIG_KEYS, LogConfigError, logConfigFromProperties, parseLogConfig } from '../src/index.js';

describe('log config', () => {
  it('defaults match Kafka', () => {
    expect(parseLogConfig()).toEqual(DEFAULT_LOG_CONFIG);
    expect(DEFAULT_LOG_CONFIG.segmentBytes).toBe(1024 ** 3);
    expect(DEFAULT_LOG_CONFIG.maxMessageBytes).toBe(1048588);
    expect(DEFAULT_LOG_CONFIG.flushMessages).toBe(Infinity);
  });

  it('maps Kafka keys, ignores non-log keys and turns Long.MAX_VALUE into Infinity', () => {
    const config = logConfigFromProperties({ 'segment.bytes': '2048', 'retention.ms': '-1', 'flush.ms': '9223372036854775807', 'cleanup.policy': 'compact' });
    expect(config.segmentBytes).toBe(2048);
    expect(config.retentionMs).toBe(-1);
    expect(config.flushMs).toBe(Infinity);
    expect(logConfigFromProperties({ 'segment.ms': '9223372036854775807', 'retention.bytes': '9223372036854775807' })).toMatchObject({ segmentMs: Infinity, retentionBytes: Infinity });
    expect(Object.keys(LOG_CONFIG_KEYS)).toContain('segment.index.bytes');
  });

  it('names every bad field by its Kafka key', () => {
    try {
      parseLogConfig({ segmentBytes: 10, retentionBytes: -2, flushMessages: 'x', maxMessageBytes: 1.5 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(LogConfigError);
      const keys = (err as LogConfigError).issues.map((i) => i.key).sort();
      expect(keys).toEqual(['flush.messages', 'max.message.bytes', 'retention.bytes', 'segment.bytes']);
      expect((err as LogConfigError).code).toBe('INVALID_CONFIG');
    }
  });

  it('parses the compaction keys: cleanup.policy in either order, a ratio, and min lag <= max lag', () => {
    const config = logConfigFromProperties({ 'cleanup.policy': 'delete,compact', 'min.cleanable.dirty.ratio': '0.25', 'delete.retention.ms': '1000', 'max.compaction.lag.ms': '9223372036854775807' });
    expect(config).toMatchObject({ cleanupPolicy: 'compact,delete', minCleanableDirtyRatio: 0.25, deleteRetentionMs: 1000, maxCompactionLagMs: Infinity, minCompactionLagMs: 0 });
    expect(DEFAULT_LOG_CONFIG).toMatchObject({ cleanupPolicy: 'delete', deleteRetentionMs: 86_400_000, minCleanableDirtyRatio: 0.5 });
    try {
      parseLogConfig({ cleanupPolicy: 'shred', minCleanableDirtyRatio: 1.5 });
      expect.unreachable();
    } catch (err) {
      expect((err as LogConfigError).issues.map((i) => i.key).sort()).toEqual(['cleanup.policy', 'min.cleanable.dirty.ratio']);
    }
    expect(() => parseLogConfig({ minCompactionLagMs: 10, maxCompactionLagMs: 5 })).toThrow(/min.compaction.lag.ms/);
  });

  it('fsyncAlways sets flush.messages=1', () => {
    expect(isFsyncAlways(fsyncAlways())).toBe(true);
    expect(isFsyncAlways(DEFAULT_LOG_CONFIG)).toBe(false);
  });
});
