// Per-partition log configuration. Field names are camelCase with the unit last; the user-facing keys are
// Kafka's topic config names (LOG_CONFIG_KEYS). One parser, parseLogConfig, validates every field.
import { BATCH_HEADER_BYTES, LOG_OVERHEAD_BYTES } from './batch-header.js';
import { type ConfigIssue, LogConfigError } from './errors.js';

export interface LogConfig {
  /** Roll the active segment before it would grow past this many bytes. `segment.bytes`. */
  readonly segmentBytes: number;
  /** Roll the active segment this long after its first append, milliseconds; Infinity = never by age. `segment.ms`. */
  readonly segmentMs: number;
  /** Bytes of batches between two sparse index entries. `index.interval.bytes`. */
  readonly indexIntervalBytes: number;
  /** Largest .index / .timeindex per segment, bytes; roll when either is full. `segment.index.bytes`. */
  readonly segmentIndexBytes: number;
  /** Delete oldest closed segments while the log stays at least this big, bytes; -1 = no limit. `retention.bytes`. */
  readonly retentionBytes: number;
  /** Delete closed segments whose newest timestamp is older than this, milliseconds; -1 = forever. `retention.ms`. */
  readonly retentionMs: number;
  /** fsync after this many unflushed offsets; 1 = fsync every append; Infinity = rely on replication. `flush.messages`. */
  readonly flushMessages: number;
  /** fsync when data has been unflushed this long, milliseconds; Infinity = never by time. `flush.ms`. */
  readonly flushMs: number;
  /** Largest single batch, bytes (whole batch including its 12-byte log overhead). `max.message.bytes`. */
  readonly maxMessageBytes: number;
  /**
   * `cleanup.policy`: `delete` (retention only), `compact` (the cleaner keeps the last record per key;
   * retention.ms / retention.bytes are ignored, as in Kafka) or `compact,delete` (both).
   */
  readonly cleanupPolicy: CleanupPolicy;
  /** How long a tombstone stays readable once the cleaner reaches it, milliseconds (by record timestamp). `delete.retention.ms`. */
  readonly deleteRetentionMs: number;
  /** Clean only when dirty bytes / cleanable bytes exceeds this ratio, in [0, 1]. `min.cleanable.dirty.ratio`. */
  readonly minCleanableDirtyRatio: number;
  /** A segment with a record newer than now minus this stays uncompacted, milliseconds. `min.compaction.lag.ms`. */
  readonly minCompactionLagMs: number;
  /** Clean regardless of the dirty ratio once a dirty segment is older than this, milliseconds; Infinity = never forced. `max.compaction.lag.ms`. */
  readonly maxCompactionLagMs: number;
}

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';
export const CLEANUP_POLICIES: readonly CleanupPolicy[] = ['delete', 'compact', 'compact,delete'];

export function isCompacted(config: LogConfig): boolean {
  return config.cleanupPolicy !== 'delete';
}

/** Retention (retention.ms / retention.bytes) deletes segments only under `delete` and `compact,delete`. */
export function deletesByRetention(config: LogConfig): boolean {
  return config.cleanupPolicy !== 'compact';
}

const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_SEGMENT_BYTES = 2 ** 31 - 1; // positions in .index are u32; Kafka's limit is Int.MaxValue

export const DEFAULT_LOG_CONFIG: LogConfig = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  indexIntervalBytes: 4096,
  segmentIndexBytes: 10 * 1024 * 1024,
  retentionBytes: -1,
  retentionMs: 7 * DAY_MS,
  flushMessages: Infinity,
  flushMs: Infinity,
  maxMessageBytes: 1024 * 1024 + LOG_OVERHEAD_BYTES,
  cleanupPolicy: 'delete',
  deleteRetentionMs: DAY_MS,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Infinity,
});

/** Kafka topic config key → LogConfig field. */
export const LOG_CONFIG_KEYS = Object.freeze({
  'segment.bytes': 'segmentBytes',
  'segment.ms': 'segmentMs',
  'index.interval.bytes': 'indexIntervalBytes',
  'segment.index.bytes': 'segmentIndexBytes',
  'retention.bytes': 'retentionBytes',
  'retention.ms': 'retentionMs',
  'flush.messages': 'flushMessages',
  'flush.ms': 'flushMs',
  'max.message.bytes': 'maxMessageBytes',
  'cleanup.policy': 'cleanupPolicy',
  'delete.retention.ms': 'deleteRetentionMs',
  'min.cleanable.dirty.ratio': 'minCleanableDirtyRatio',
  'min.compaction.lag.ms': 'minCompactionLagMs',
  'max.compaction.lag.ms': 'maxCompactionLagMs',
} as const satisfies Record<string, keyof LogConfig>);

export type LogConfigKey = keyof typeof LOG_CONFIG_KEYS;

const KEY_OF_FIELD = Object.fromEntries(Object.entries(LOG_CONFIG_KEYS).map(([k, f]) => [f, k])) as Record<keyof LogConfig, LogConfigKey>;

interface FieldRule {
  /** int: an integer (or integer string); ratio: any finite number; policy: a cleanup.policy name. */
  readonly kind?: 'int' | 'ratio' | 'policy';
  readonly min: number;
  readonly max: number;
  /** Values at or above Number.MAX_SAFE_INTEGER (Kafka's Long.MAX_VALUE "never") become Infinity. */
  readonly infinite: boolean;
}

const RULES: Record<keyof LogConfig, FieldRule> = {
  segmentBytes: { min: BATCH_HEADER_BYTES, max: MAX_SEGMENT_BYTES, infinite: false },
  segmentMs: { min: 1, max: Infinity, infinite: true },
  indexIntervalBytes: { min: 0, max: MAX_SEGMENT_BYTES, infinite: false },
  segmentIndexBytes: { min: 12, max: MAX_SEGMENT_BYTES, infinite: false },
  retentionBytes: { min: -1, max: Infinity, infinite: true },
  retentionMs: { min: -1, max: Infinity, infinite: true },
  flushMessages: { min: 1, max: Infinity, infinite: true },
  flushMs: { min: 0, max: Infinity, infinite: true },
  maxMessageBytes: { min: BATCH_HEADER_BYTES, max: MAX_SEGMENT_BYTES, infinite: false },
  cleanupPolicy: { kind: 'policy', min: 0, max: 0, infinite: false },
  deleteRetentionMs: { min: 0, max: Infinity, infinite: true },
  minCleanableDirtyRatio: { kind: 'ratio', min: 0, max: 1, infinite: false },
  minCompactionLagMs: { min: 0, max: Infinity, infinite: true },
  maxCompactionLagMs: { min: 1, max: Infinity, infinite: true },
};

/**
 * Builds a LogConfig from DEFAULT_LOG_CONFIG and overrides given by field name. Accepts numbers or
 * integer strings; throws LogConfigError naming every bad field by its Kafka key.
 */
export function parseLogConfig(overrides: Partial<Record<keyof LogConfig, unknown>> = {}): LogConfig {
  const issues: ConfigIssue[] = [];
  const out: Record<string, unknown> = { ...DEFAULT_LOG_CONFIG };
  for (const [field, raw] of Object.entries(overrides)) {
    if (raw === undefined) continue;
    if (!Object.hasOwn(RULES, field)) {
      issues.push({ key: field, message: 'unknown log config field' });
      continue;
    }
    const key = KEY_OF_FIELD[field as keyof LogConfig];
    const rule = RULES[field as keyof LogConfig];
    if (rule.kind === 'policy') {
      const policy = typeof raw === 'string' ? normalizePolicy(raw) : null;
      if (policy === null) issues.push({ key, message: `expected one of ${CLEANUP_POLICIES.join(' | ')}, got ${JSON.stringify(raw)}` });
      else out[field] = policy;
      continue;
    }
    const value = rule.kind === 'ratio' ? toRatio(raw) : toNumber(raw);
    if (value === null) {
      issues.push({ key, message: `expected ${rule.kind === 'ratio' ? 'a number' : 'an integer'}, got ${JSON.stringify(raw)}` });
      continue;
    }
    const normalized = rule.infinite && value >= Number.MAX_SAFE_INTEGER ? Infinity : value;
    if (normalized < rule.min || normalized > rule.max) {
      issues.push({ key, message: `${String(raw)} is outside [${rule.min}, ${rule.max}]` });
      continue;
    }
    out[field] = normalized;
  }
  const config = out as unknown as LogConfig;
  if (issues.length === 0 && config.minCompactionLagMs > config.maxCompactionLagMs) {
    issues.push({ key: 'min.compaction.lag.ms', message: `${config.minCompactionLagMs} exceeds max.compaction.lag.ms ${config.maxCompactionLagMs}` });
  }
  if (issues.length > 0) throw new LogConfigError(issues);
  return Object.freeze(config);
}

/**
 * Builds a LogConfig from Kafka-keyed properties (e.g. a topic's effective configs). Keys that are not
 * log configs (min.insync.replicas, ...) are ignored.
 */
export function logConfigFromProperties(props: Readonly<Record<string, string | number>>): LogConfig {
  const overrides: Partial<Record<keyof LogConfig, unknown>> = {};
  for (const [key, value] of Object.entries(props)) {
    if (Object.hasOwn(LOG_CONFIG_KEYS, key)) overrides[LOG_CONFIG_KEYS[key as LogConfigKey]] = value;
  }
  return parseLogConfig(overrides);
}

/** The config with fsync on every append (`flush.messages=1`): an append resolves only once durable. */
export function fsyncAlways(config: LogConfig = DEFAULT_LOG_CONFIG): LogConfig {
  return Object.freeze({ ...config, flushMessages: 1 });
}

export function isFsyncAlways(config: LogConfig): boolean {
  return config.flushMessages === 1;
}

/** Kafka accepts the list in either order ("delete,compact"); we store one spelling. */
function normalizePolicy(raw: string): CleanupPolicy | null {
  const parts = [...new Set(raw.split(',').map((p) => p.trim().toLowerCase()))].sort();
  if (parts.length === 1 && (parts[0] === 'delete' || parts[0] === 'compact')) return parts[0];
  if (parts.length === 2 && parts[0] === 'compact' && parts[1] === 'delete') return 'compact,delete';
  return null;
}

function toRatio(raw: unknown): number | null {
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  return Number.isFinite(value) ? value : null;
}

function toNumber(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isInteger(raw) || raw === Infinity ? raw : null;
  if (typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw)) return Number(raw.trim());
  return null;
}
