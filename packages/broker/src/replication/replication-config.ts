// Replication settings (Kafka's names are the user-facing keys; fields carry their units).
import { InvalidArgumentError } from '../errors.js';

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
}

export const DEFAULT_REPLICATION_CONFIG: ReplicationConfig = {
  replicaLagTimeMaxMs: 30_000,
  replicaFetchWaitMaxMs: 500,
  replicaFetchMinBytes: 1,
  replicaFetchResponseMaxBytes: 10 * 1024 * 1024,
  replicaFetchMaxBytes: 1024 * 1024,
  replicaFetchBackoffMs: 1000,
  alterPartitionTimeoutMs: 10_000,
  alterPartitionBackoffMs: 200,
  fetchSessionPartitionsMax: 10_000,
};

/** Fills defaults and checks every field and the cross-field rule; names every bad field. */
export function parseReplicationConfig(partial: Partial<ReplicationConfig> = {}): ReplicationConfig {
  const config: ReplicationConfig = { ...DEFAULT_REPLICATION_CONFIG, ...partial };
  const issues: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!Number.isSafeInteger(value) || (value as number) < 0) issues.push(`${key} must be a non-negative integer, got ${String(value)}`);
  }
  if (config.replicaLagTimeMaxMs < 1) issues.push('replicaLagTimeMaxMs must be ≥ 1');
  if (config.replicaFetchWaitMaxMs >= config.replicaLagTimeMaxMs) {
    issues.push(`replicaFetchWaitMaxMs (${config.replicaFetchWaitMaxMs}) must be < replicaLagTimeMaxMs (${config.replicaLagTimeMaxMs}), or idle followers would drop out of the ISR`);
  }
  if (config.fetchSessionPartitionsMax < 1) issues.push('fetchSessionPartitionsMax must be ≥ 1');
  if (issues.length > 0) throw new InvalidArgumentError('replication', issues.join('; '));
  return config;
}
