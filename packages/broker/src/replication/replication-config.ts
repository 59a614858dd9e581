// Replication settings, readonly. The user-facing keys (replica.*, Kafka's names) are the node config's,
// parsed and checked once there; replicationConfig (component-configs.ts) derives this from it.

export interface ReplicationConfig {
  /** replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR. */
  readonly replicaLagTimeMaxMs: number;
  /** replica.fetch.wait.max.ms: long-poll time of a follower fetch. Must be < replicaLagTimeMaxMs. */
  readonly replicaFetchWaitMaxMs: number;
  /** replica.fetch.min.bytes */
  readonly replicaFetchMinBytes: number;
  /** replica.fetch.response.max.bytes: total bytes of one fetch response. */
  readonly replicaFetchResponseMaxBytes: number;
  /** replica.fetch.max.bytes: bytes per partition in one fetch response. */
  readonly replicaFetchMaxBytes: number;
  /** replica.fetch.backoff.ms: pause after a failed fetch. */
  readonly replicaFetchBackoffMs: number;
  /** How long an AlterPartition may take before its outcome counts as unknown. */
  readonly alterPartitionTimeoutMs: number;
  /** Pause before re-sending an unanswered or refused AlterPartition. */
  readonly alterPartitionBackoffMs: number;
  /** Most partitions one follower fetch session carries. */
  readonly fetchSessionPartitionsMax: number;
  /** replica.fetch.stream.enable: fetch over one ReplicaFetchStream per leader instead of unary calls. */
  readonly replicaFetchStreamEnable: boolean;
}

/** How long an AlterPartition may take before its outcome counts as unknown, milliseconds. */
export const DEFAULT_ALTER_PARTITION_TIMEOUT_MS = 10_000;
/** Pause before re-sending an unanswered or refused AlterPartition, milliseconds. */
export const DEFAULT_ALTER_PARTITION_BACKOFF_MS = 200;
/** Most partitions one follower fetch session carries. */
export const DEFAULT_FETCH_SESSION_PARTITIONS_MAX = 10_000;
/** Default for replica.fetch.stream.max.bytes.in.flight (per fetch stream, leader side), bytes. */
export const DEFAULT_REPLICA_FETCH_STREAM_BYTES_IN_FLIGHT_MAX = 32 * 1024 * 1024;
