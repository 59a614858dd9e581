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
} as const satisfies Record<string, keyof LogConfig>);

export type LogConfigKey = keyof typeof LOG_CONFIG_KEYS;

const KEY_OF_FIELD = Object.fromEntries(Object.entries(LOG_CONFIG_KEYS).map(([k, f]) => [f, k])) as Record<keyof LogConfig, LogConfigKey>;

interface FieldRule {
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
};

/**
 * Builds a LogConfig from DEFAULT_LOG_CONFIG and overrides given by field name. Accepts numbers or
 * integer strings; throws LogConfigError naming every bad field by its Kafka key.
 */
export function parseLogConfig(overrides: Partial<Record<keyof LogConfig, unknown>> = {}): LogConfig {
  const issues: ConfigIssue[] = [];
  const out: Record<string, number> = { ...DEFAULT_LOG_CONFIG };
  for (const [field, raw] of Object.entries(overrides)) {
    if (raw === undefined) continue;
    if (!Object.hasOwn(RULES, field)) {
      issues.push({ key: field, message: 'unknown log config field' });
      continue;
    }
    const key = KEY_OF_FIELD[field as keyof LogConfig];
    const rule = RULES[field as keyof LogConfig];
    const value = toNumber(raw);
    if (value === null) {
      issues.push({ key, message: `expected an integer, got ${JSON.stringify(raw)}` });
      continue;
    }
    const normalized = rule.infinite && value >= Number.MAX_SAFE_INTEGER ? Infinity : value;
    if (normalized < rule.min || normalized > rule.max) {
      issues.push({ key, message: `${String(raw)} is outside [${rule.min}, ${rule.max}]` });
      continue;
    }
    out[field] = normalized;
  }
  if (issues.length > 0) throw new LogConfigError(issues);
  return Object.freeze(out as unknown as LogConfig);
}

/**
 * Builds a LogConfig from Kafka-keyed properties (e.g. a topic's effective configs). Keys that are not
 * log configs (cleanup.policy, min.insync.replicas, ...) are ignored.
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

function toNumber(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isInteger(raw) || raw === Infinity ? raw : null;
  if (typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw)) return Number(raw.trim());
  return null;
}
