// Each component's readonly config, derived from the node config by a pure function. The node config
// (node-config.ts) owns every user-facing key and has already checked each one and every cross-field
// rule, so these only rename and convert units; what they assert cannot fail for a parsed NodeConfig.
import { AssertionError } from 'node:assert';
import type { ControllerConfig, QuorumControllerConfig, TopicConfigValidator } from '@tributary/controller';
import { ApiError } from './errors.js';
import type { GroupCoordinatorConfig } from './groups/group-coordinator-config.js';
import type { LogMaintenanceConfig } from './log-maintenance.js';
import { DEFAULT_TRANSACTION_COORDINATOR_CONFIG, type TransactionCoordinatorConfig } from './transactions/transaction-coordinator-config.js';
import type { NodeConfig } from './node-config.js';
import {
  DEFAULT_ALTER_PARTITION_BACKOFF_MS, DEFAULT_ALTER_PARTITION_TIMEOUT_MS, DEFAULT_FETCH_SESSION_PARTITIONS_MAX,
  type ReplicationConfig,
} from './replication/replication-config.js';
import { validateTopicConfigOverrides } from './topic-config.js';

export function groupCoordinatorConfig(node: NodeConfig): GroupCoordinatorConfig {
  return Object.freeze({
    offsetsTopicNumPartitions: node.offsetsTopicNumPartitions,
    offsetsTopicSegmentBytes: node.offsetsTopicSegmentBytes,
    offsetsRetentionMs: node.offsetsRetentionMinutes * 60_000,
    offsetsCommitTimeoutMs: node.offsetsCommitTimeoutMs,
    groupMinSessionTimeoutMs: node.groupMinSessionTimeoutMs,
    groupMaxSessionTimeoutMs: node.groupMaxSessionTimeoutMs,
    tickIntervalMs: node.groupTickIntervalMs,
  });
}

export function transactionCoordinatorConfig(node: NodeConfig): TransactionCoordinatorConfig {
  return Object.freeze({
    ...DEFAULT_TRANSACTION_COORDINATOR_CONFIG,
    stateLogNumPartitions: node.transactionStateLogNumPartitions,
    stateLogReplicationFactor: node.transactionStateLogReplicationFactor,
    stateLogMinIsr: node.transactionStateLogMinIsr,
    stateLogSegmentBytes: node.transactionStateLogSegmentBytes,
    maxTimeoutMs: node.transactionMaxTimeoutMs,
    transactionalIdExpirationMs: node.transactionalIdExpirationMs,
    abortTimedOutIntervalMs: node.transactionAbortTimedOutTransactionCleanupIntervalMs,
    removeExpiredIntervalMs: node.transactionRemoveExpiredTransactionCleanupIntervalMs,
    writeTimeoutMs: node.requestTimeoutMs,
  });
}

/**
 * The node's replica.* keys; `overrides` is a test seam (a replication test with its own timings) and
 * is held to the same cross-field rule, as an invariant.
 */
export function replicationConfig(node: NodeConfig, overrides: Partial<ReplicationConfig> = {}): ReplicationConfig {
  const config: ReplicationConfig = Object.freeze({
    replicaLagTimeMaxMs: node.replicaLagTimeMaxMs,
    replicaFetchWaitMaxMs: node.replicaFetchWaitMaxMs,
    replicaFetchMinBytes: node.replicaFetchMinBytes,
    replicaFetchResponseMaxBytes: node.replicaFetchResponseMaxBytes,
    replicaFetchMaxBytes: node.replicaFetchMaxBytes,
    replicaFetchBackoffMs: node.replicaFetchBackoffMs,
    alterPartitionTimeoutMs: DEFAULT_ALTER_PARTITION_TIMEOUT_MS,
    alterPartitionBackoffMs: DEFAULT_ALTER_PARTITION_BACKOFF_MS,
    fetchSessionPartitionsMax: DEFAULT_FETCH_SESSION_PARTITIONS_MAX,
    replicaFetchStreamEnable: node.replicaFetchStreamEnable,
    ...overrides,
  });
  if (config.replicaFetchWaitMaxMs >= config.replicaLagTimeMaxMs) {
    throw new AssertionError({ message: `replicaFetchWaitMaxMs (${config.replicaFetchWaitMaxMs}) must be < replicaLagTimeMaxMs (${config.replicaLagTimeMaxMs})` });
  }
  return config;
}

/** The controller core's topic defaults and rules. */
export function controllerConfig(node: NodeConfig): Partial<ControllerConfig> {
  return Object.freeze({
    defaultNumPartitions: node.numPartitions,
    defaultReplicationFactor: node.defaultReplicationFactor,
    uncleanLeaderElectionEnable: node.uncleanLeaderElectionEnable,
    validateTopicConfigs: brokerTopicConfigValidator(node),
  });
}

/** The controller voter's Raft timing and periodic checks. */
export function quorumControllerConfig(node: NodeConfig): Partial<QuorumControllerConfig> {
  // Ten ticks per election timeout, as in Kafka's and etcd's defaults (and at least 5 ms a tick).
  const tickMs = Math.max(5, Math.floor(node.controllerQuorumElectionTimeoutMs / 10));
  return Object.freeze({
    tickMs, electionTicks: 10, heartbeatTicks: 1,
    brokerSessionTimeoutMs: node.brokerSessionTimeoutMs,
    brokerLivenessProbeAfterMs: node.brokerLivenessProbeAfterMs,
    snapshotIntervalRecords: node.metadataSnapshotIntervalRecords,
    autoLeaderRebalanceEnable: node.autoLeaderRebalanceEnable,
    leaderImbalanceCheckIntervalMs: node.leaderImbalanceCheckIntervalSeconds * 1000,
  });
}

export function logMaintenanceConfig(node: NodeConfig): LogMaintenanceConfig {
  return Object.freeze({
    retentionCheckIntervalMs: node.logRetentionCheckIntervalMs,
    cleanerEnable: node.logCleanerEnable,
    cleanerBackoffMs: node.logCleanerBackoffMs,
  });
}

/**
 * The broker owns the topic config rules (topic-config.ts); the controller applies them through this,
 * cross-key rules against this node's defaults for keys the topic does not override.
 */
const brokerTopicConfigValidator = (node: NodeConfig): TopicConfigValidator => (configs) => {
  try {
    return { ok: true, configs: validateTopicConfigOverrides(configs, node) };
  } catch (err) {
    if (err instanceof ApiError && err.code === 'INVALID_CONFIG') return { ok: false, message: err.message };
    throw err;
  }
};
