// Topic-level configs: Kafka's names, validated, with defaults taken from the broker config.
// A topic stores only its overrides; the effective config is resolved against the node config, so a
// changed broker default applies to every topic that does not override it.
import { z } from 'zod';
import { ApiError } from './errors.js';
import { type CleanupPolicy, type CompressionType, type NodeConfig, ratioString, type TimestampType } from './node-config.js';

export interface TopicConfig {
  readonly cleanupPolicy: CleanupPolicy;
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly segmentBytes: number;
  readonly segmentMs: number;
  readonly maxMessageBytes: number;
  readonly minInsyncReplicas: number;
  readonly messageTimestampType: TimestampType;
  readonly flushMessages: number;
  readonly flushMs: number;
  /**
   * 'producer' keeps batches as produced. The broker never recompresses: any other value only
   * accepts batches already compressed with that codec (others get INVALID_RECORD).
   */
  readonly compressionType: CompressionType;
  readonly uncleanLeaderElectionEnable: boolean;
  /** Bytes of batches between two offset index entries. */
  readonly indexIntervalBytes: number;
  /** Largest offset / time index of a segment, bytes: the segment rolls when one is full. */
  readonly segmentIndexBytes: number;
  /** How long the cleaner keeps a tombstone or a transaction marker it could remove, milliseconds. */
  readonly deleteRetentionMs: number;
  /** The cleaner cleans only when dirty bytes / cleanable bytes exceed this, in [0, 1]. */
  readonly minCleanableDirtyRatio: number;
  /** A segment with a record newer than this stays uncompacted, milliseconds. */
  readonly minCompactionLagMs: number;
  /** A dirty segment older than this is cleaned whatever the dirty ratio, milliseconds; COMPACTION_LAG_NEVER = never. */
  readonly maxCompactionLagMs: number;
}

/** Topic overrides as stored: Kafka key → string value. */
export type TopicConfigOverrides = Readonly<Record<string, string>>;

/** Storage cannot hold a segment or batch smaller than one batch header. */
const LOG_BATCH_HEADER_BYTES = 61;

const intString = (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  z.string().trim().regex(/^-?\d+$/, 'expected an integer').transform(Number).pipe(z.number().int().min(min).max(max));
const boolString = z.string().trim().toLowerCase()
  .refine((s) => s === 'true' || s === 'false', 'expected true or false').transform((s) => s === 'true');

interface TopicKeySpec {
  readonly field: keyof TopicConfig;
  readonly schema: z.ZodType<unknown, string>;
  readonly brokerDefault: (broker: NodeConfig) => unknown;
  readonly doc: string;
}

export const TOPIC_CONFIG_KEYS = {
  'cleanup.policy': { field: 'cleanupPolicy', schema: z.enum(['delete', 'compact', 'compact,delete']), brokerDefault: (b) => b.logCleanupPolicy, doc: 'delete, compact (the log cleaner keeps the last record per key in closed segments), or compact,delete. Default log.cleanup.policy.' },
  'retention.ms': { field: 'retentionMs', schema: intString(-1), brokerDefault: (b) => b.logRetentionMs, doc: 'Delete closed segments older than this, milliseconds; -1 = forever. Default log.retention.ms.' },
  'retention.bytes': { field: 'retentionBytes', schema: intString(-1), brokerDefault: (b) => b.logRetentionBytes, doc: 'Delete oldest closed segments while the partition is larger, bytes; -1 = unlimited. Default log.retention.bytes.' },
  'segment.bytes': { field: 'segmentBytes', schema: intString(LOG_BATCH_HEADER_BYTES, 2 ** 31 - 1), brokerDefault: (b) => b.logSegmentBytes, doc: 'Roll a segment at this size, bytes. Default log.segment.bytes.' },
  'segment.ms': { field: 'segmentMs', schema: intString(1), brokerDefault: (b) => b.logRollMs, doc: 'Roll a segment at this age, milliseconds. Default log.roll.ms.' },
  'max.message.bytes': { field: 'maxMessageBytes', schema: intString(LOG_BATCH_HEADER_BYTES, 256 * 1024 * 1024), brokerDefault: (b) => b.messageMaxBytes, doc: 'Largest record batch, bytes (MESSAGE_TOO_LARGE beyond). Default message.max.bytes.' },
  'min.insync.replicas': { field: 'minInsyncReplicas', schema: intString(1, 32), brokerDefault: (b) => b.minInsyncReplicas, doc: 'acks=all needs at least this many in-sync replicas. Default min.insync.replicas.' },
  'message.timestamp.type': { field: 'messageTimestampType', schema: z.enum(['CreateTime', 'LogAppendTime']), brokerDefault: (b) => b.logMessageTimestampType, doc: 'CreateTime keeps the producer\'s timestamps; LogAppendTime stamps the broker\'s clock. Default log.message.timestamp.type.' },
  'flush.messages': { field: 'flushMessages', schema: intString(1), brokerDefault: (b) => b.logFlushIntervalMessages, doc: 'fsync after this many messages. Default log.flush.interval.messages.' },
  'flush.ms': { field: 'flushMs', schema: intString(0), brokerDefault: (b) => b.logFlushIntervalMs, doc: 'fsync at least this often, milliseconds. Default log.flush.interval.ms.' },
  'compression.type': { field: 'compressionType', schema: z.enum(['producer', 'none', 'gzip', 'lz4']), brokerDefault: (b) => b.compressionType, doc: 'producer (keep as produced), or a codec batches must already use (no recompression). Default compression.type.' },
  'unclean.leader.election.enable': { field: 'uncleanLeaderElectionEnable', schema: boolString, brokerDefault: (b) => b.uncleanLeaderElectionEnable, doc: 'Let an out-of-sync replica lead (may lose data). Default unclean.leader.election.enable.' },
  'index.interval.bytes': { field: 'indexIntervalBytes', schema: intString(0, 2 ** 31 - 1), brokerDefault: (b) => b.logIndexIntervalBytes, doc: 'Bytes of batches between two offset index entries. Default log.index.interval.bytes.' },
  'segment.index.bytes': { field: 'segmentIndexBytes', schema: intString(12, 2 ** 31 - 1), brokerDefault: (b) => b.logIndexSizeMaxBytes, doc: 'Largest offset / time index of a segment, bytes; the segment rolls when one is full. Default log.index.size.max.bytes.' },
  'delete.retention.ms': { field: 'deleteRetentionMs', schema: intString(0), brokerDefault: (b) => b.logCleanerDeleteRetentionMs, doc: 'How long the cleaner keeps a tombstone, or a transaction marker with nothing left of its transaction, once it could remove it, milliseconds (by its timestamp). Default log.cleaner.delete.retention.ms.' },
  'min.cleanable.dirty.ratio': { field: 'minCleanableDirtyRatio', schema: ratioString, brokerDefault: (b) => b.logCleanerMinCleanableRatio, doc: 'The cleaner cleans only when dirty bytes / cleanable bytes exceed this (0 … 1). Default log.cleaner.min.cleanable.ratio.' },
  'min.compaction.lag.ms': { field: 'minCompactionLagMs', schema: intString(0), brokerDefault: (b) => b.logCleanerMinCompactionLagMs, doc: 'A segment with a record newer than this stays uncompacted, milliseconds. Default log.cleaner.min.compaction.lag.ms.' },
  'max.compaction.lag.ms': { field: 'maxCompactionLagMs', schema: intString(1), brokerDefault: (b) => b.logCleanerMaxCompactionLagMs, doc: 'A dirty segment older than this is cleaned whatever the dirty ratio, milliseconds. Default log.cleaner.max.compaction.lag.ms (never).' },
} as const satisfies Record<string, TopicKeySpec>;

export type TopicConfigKey = keyof typeof TOPIC_CONFIG_KEYS;
const KEYS = Object.keys(TOPIC_CONFIG_KEYS) as TopicConfigKey[];

export function isTopicConfigKey(key: string): key is TopicConfigKey {
  return Object.hasOwn(TOPIC_CONFIG_KEYS, key);
}

/**
 * Validates overrides and returns them normalized (trimmed, canonical booleans). Throws
 * INVALID_CONFIG naming the first bad key and why. Cross-key rule (Kafka's): min.compaction.lag.ms ≤
 * max.compaction.lag.ms, between the overrides and, when `broker` is given, its defaults for the other.
 */
export function validateTopicConfigOverrides(overrides: TopicConfigOverrides, broker?: NodeConfig): TopicConfigOverrides {
  const normalized: Record<string, string> = {};
  const parsed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (!isTopicConfigKey(key)) throw new ApiError('INVALID_CONFIG', `unknown topic config ${JSON.stringify(key)}`);
    const spec: TopicKeySpec = TOPIC_CONFIG_KEYS[key];
    const result = spec.schema.safeParse(value);
    if (!result.success) {
      throw new ApiError('INVALID_CONFIG', `invalid value ${JSON.stringify(value)} for topic config ${key}: ${result.error.issues.map((i) => i.message).join('; ')}`);
    }
    normalized[key] = String(result.data);
    parsed[key] = result.data;
  }
  const minLagMs = (parsed['min.compaction.lag.ms'] as number | undefined) ?? broker?.logCleanerMinCompactionLagMs;
  const maxLagMs = (parsed['max.compaction.lag.ms'] as number | undefined) ?? broker?.logCleanerMaxCompactionLagMs;
  if (minLagMs !== undefined && maxLagMs !== undefined && minLagMs > maxLagMs) {
    throw new ApiError('INVALID_CONFIG', `topic config min.compaction.lag.ms (${minLagMs}) must be ≤ max.compaction.lag.ms (${maxLagMs})`);
  }
  return normalized;
}

/** The effective config of a topic: its (already validated) overrides over the broker defaults. */
export function resolveTopicConfig(overrides: TopicConfigOverrides, broker: NodeConfig): TopicConfig {
  const out: Record<string, unknown> = {};
  for (const key of KEYS) {
    const spec: TopicKeySpec = TOPIC_CONFIG_KEYS[key];
    const override = overrides[key];
    out[spec.field] = override === undefined ? spec.brokerDefault(broker) : spec.schema.parse(override);
  }
  return Object.freeze(out as unknown as TopicConfig);
}

export interface TopicConfigEntry {
  readonly name: TopicConfigKey;
  readonly value: string;
  readonly isDefault: boolean;
}

/** Every topic config key with its effective value, for DescribeTopics/DescribeConfigs. */
export function describeTopicConfig(overrides: TopicConfigOverrides, broker: NodeConfig): readonly TopicConfigEntry[] {
  return KEYS.map((name) => {
    const override = overrides[name];
    const spec: TopicKeySpec = TOPIC_CONFIG_KEYS[name];
    return override === undefined
      ? { name, value: String(spec.brokerDefault(broker)), isDefault: true }
      : { name, value: override, isDefault: false };
  });
}
