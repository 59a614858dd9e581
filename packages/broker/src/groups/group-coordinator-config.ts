// The group coordinator's readonly config. The user-facing keys are the node config's (offsets.*,
// group.*; node-config.ts parses them once); groupCoordinatorConfig (component-configs.ts) derives this.

/** offsets.topic.num.partitions: partitions of __consumer_offsets (Kafka's default; tests use fewer). */
export const DEFAULT_OFFSETS_TOPIC_NUM_PARTITIONS = 50;
/** offsets.topic.segment.bytes, bytes: small segments so the cleaner (closed segments only) keeps up. */
export const DEFAULT_OFFSETS_TOPIC_SEGMENT_BYTES = 104_857_600;
/** offsets.retention.minutes, minutes (7 days). */
export const DEFAULT_OFFSETS_RETENTION_MINUTES = 10_080;
/** offsets.commit.timeout.ms, milliseconds. */
export const DEFAULT_OFFSETS_COMMIT_TIMEOUT_MS = 5_000;
/** group.min.session.timeout.ms / group.max.session.timeout.ms, milliseconds. */
export const DEFAULT_GROUP_MIN_SESSION_TIMEOUT_MS = 1_000;
export const DEFAULT_GROUP_MAX_SESSION_TIMEOUT_MS = 300_000;
/** group.tick.interval.ms, milliseconds: how often sessions, rebalance deadlines and offset retention are checked. */
export const DEFAULT_GROUP_TICK_INTERVAL_MS = 100;

export interface GroupCoordinatorConfig {
  readonly offsetsTopicNumPartitions: number;
  /** Bytes. */
  readonly offsetsTopicSegmentBytes: number;
  /** offsets.retention.minutes, in milliseconds. */
  readonly offsetsRetentionMs: number;
  /** How long a commit waits for acks=all, milliseconds. */
  readonly offsetsCommitTimeoutMs: number;
  /** A JoinGroup's session timeout must lie in [min, max], milliseconds (else INVALID_SESSION_TIMEOUT). */
  readonly groupMinSessionTimeoutMs: number;
  readonly groupMaxSessionTimeoutMs: number;
  readonly tickIntervalMs: number;
}

export const DEFAULT_GROUP_COORDINATOR_CONFIG: GroupCoordinatorConfig = Object.freeze({
  offsetsTopicNumPartitions: DEFAULT_OFFSETS_TOPIC_NUM_PARTITIONS,
  offsetsTopicSegmentBytes: DEFAULT_OFFSETS_TOPIC_SEGMENT_BYTES,
  offsetsRetentionMs: DEFAULT_OFFSETS_RETENTION_MINUTES * 60_000,
  offsetsCommitTimeoutMs: DEFAULT_OFFSETS_COMMIT_TIMEOUT_MS,
  groupMinSessionTimeoutMs: DEFAULT_GROUP_MIN_SESSION_TIMEOUT_MS,
  groupMaxSessionTimeoutMs: DEFAULT_GROUP_MAX_SESSION_TIMEOUT_MS,
  tickIntervalMs: DEFAULT_GROUP_TICK_INTERVAL_MS,
});
