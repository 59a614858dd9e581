// The controller core's readonly config and the context every command gets: time and randomness are
// passed in (no Date.now / Math.random in here).

/** A seeded source: an integer in [0, n). nraft's Random has the same shape. */
export interface Random {
  intn(n: number): number;
}

/** Validates topic config overrides; returns them normalized, or why not (INVALID_CONFIG). */
export type TopicConfigValidator = (configs: Readonly<Record<string, string>>) =>
  { readonly ok: true; readonly configs: Readonly<Record<string, string>> } | { readonly ok: false; readonly message: string };

export interface ControllerConfig {
  /** num.partitions: used when a CreateTopics request says -1. */
  readonly defaultNumPartitions: number;
  /** default.replication.factor: used when a CreateTopics request says -1. */
  readonly defaultReplicationFactor: number;
  /** unclean.leader.election.enable for topics (and the cluster) that do not set it. */
  readonly uncleanLeaderElectionEnable: boolean;
  /** Producer ids per AllocateProducerIds block. */
  readonly producerIdBlockSize: number;
  /** Largest partition count a topic may have (create or grow). */
  readonly partitionsPerTopicMax: number;
  /** Largest config value, in characters. */
  readonly configValueCharsMax: number;
  /** Topic config validation; the broker's validateTopicConfigOverrides in production. */
  readonly validateTopicConfigs: TopicConfigValidator;
}

export interface ControllerContext {
  readonly nowMs: number;
  readonly random: Random;
  readonly config: ControllerConfig;
}

export const DEFAULT_NUM_PARTITIONS = 1;
export const DEFAULT_REPLICATION_FACTOR = 1;
export const DEFAULT_PRODUCER_ID_BLOCK_SIZE = 1_000;
export const DEFAULT_PARTITIONS_PER_TOPIC_MAX = 10_000;
export const DEFAULT_CONFIG_VALUE_CHARS_MAX = 4_096;

/**
 * Kafka's topic-level keys, checked only for being known and (for the boolean and integer ones) well
 * formed. The broker owns the full rules (packages/broker/src/topic-config.ts) and should inject them
 * as `validateTopicConfigs`; the controller cannot import the broker.
 */
const TOPIC_KEYS: Readonly<Record<string, 'int' | 'bool' | 'string'>> = {
  'cleanup.policy': 'string', 'retention.ms': 'int', 'retention.bytes': 'int', 'segment.bytes': 'int', 'segment.ms': 'int',
  'max.message.bytes': 'int', 'min.insync.replicas': 'int', 'message.timestamp.type': 'string', 'flush.messages': 'int',
  'flush.ms': 'int', 'compression.type': 'string', 'unclean.leader.election.enable': 'bool', 'delete.retention.ms': 'int',
  'index.interval.bytes': 'int', 'segment.index.bytes': 'int', 'min.cleanable.dirty.ratio': 'string', 'min.compaction.lag.ms': 'int',
  'max.compaction.lag.ms': 'int',
};

export const basicTopicConfigValidator: TopicConfigValidator = (configs) => {
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(configs)) {
    const kind = TOPIC_KEYS[key];
    if (kind === undefined) return { ok: false, message: `unknown topic config ${JSON.stringify(key)}` };
    const value = raw.trim();
    if (kind === 'int' && !/^-?\d+$/.test(value)) return { ok: false, message: `invalid value ${JSON.stringify(raw)} for topic config ${key}: expected an integer` };
    if (kind === 'bool' && value.toLowerCase() !== 'true' && value.toLowerCase() !== 'false') {
      return { ok: false, message: `invalid value ${JSON.stringify(raw)} for topic config ${key}: expected true or false` };
    }
    out[key] = kind === 'bool' ? value.toLowerCase() : value;
  }
  return { ok: true, configs: out };
};

export const DEFAULT_CONTROLLER_CONFIG: ControllerConfig = Object.freeze({
  defaultNumPartitions: DEFAULT_NUM_PARTITIONS,
  defaultReplicationFactor: DEFAULT_REPLICATION_FACTOR,
  uncleanLeaderElectionEnable: false,
  producerIdBlockSize: DEFAULT_PRODUCER_ID_BLOCK_SIZE,
  partitionsPerTopicMax: DEFAULT_PARTITIONS_PER_TOPIC_MAX,
  configValueCharsMax: DEFAULT_CONFIG_VALUE_CHARS_MAX,
  validateTopicConfigs: basicTopicConfigValidator,
});

/** Validates a partial config over the defaults; names every bad field. */
export function parseControllerConfig(input: Partial<ControllerConfig> = {}): ControllerConfig {
  const c = { ...DEFAULT_CONTROLLER_CONFIG, ...input };
  const problems: string[] = [];
  const positive = ['defaultNumPartitions', 'defaultReplicationFactor', 'producerIdBlockSize', 'partitionsPerTopicMax', 'configValueCharsMax'] as const;
  for (const f of positive) if (!Number.isSafeInteger(c[f]) || c[f] <= 0) problems.push(`${f} must be a positive integer, got ${String(c[f])}`);
  if (c.producerIdBlockSize > 0x7fff_ffff) problems.push(`producerIdBlockSize must fit an int32, got ${c.producerIdBlockSize}`);
  if (c.defaultNumPartitions > c.partitionsPerTopicMax) problems.push(`defaultNumPartitions (${c.defaultNumPartitions}) exceeds partitionsPerTopicMax (${c.partitionsPerTopicMax})`);
  if (typeof c.uncleanLeaderElectionEnable !== 'boolean') problems.push('uncleanLeaderElectionEnable must be a boolean');
  if (typeof c.validateTopicConfigs !== 'function') problems.push('validateTopicConfigs must be a function');
  if (problems.length > 0) throw new RangeError(`invalid controller config: ${problems.join('; ')}`);
  return Object.freeze(c);
}
