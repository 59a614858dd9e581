// Public API of @tributary/broker: start a node, parse its config, and the metadata seam
// (MetadataView) that the cluster's ClusterMetadata implements.
export { startNode, DEFAULT_SHUTDOWN_GRACE_MS, type StartNodeOptions, type TributaryNode } from './node.js';
export { DataDirLockedError, type DataDirLockOwner } from './data-dir-lock.js';
export {
  parseNodeConfig,
  withConfigOverrides,
  NODE_CONFIG_KEYS,
  ConfigError,
  envVarName,
  defaultSocketRequestMaxBytes,
  DEFAULT_MESSAGE_MAX_BYTES,
  REQUEST_OVERHEAD_BYTES,
  FLUSH_NEVER,
  type NodeConfig,
  type NodeConfigKey,
  type NodeConfigSources,
  type ConfigIssue,
  type NodeRole,
  type QuorumVoter,
  type LogLevel,
  type CleanupPolicy,
  type TimestampType,
  type CompressionType,
  type RawConfigValue,
} from './node-config.js';
export { parseHostPort, formatHostPort, type HostPort } from './host-port.js';
export {
  TOPIC_CONFIG_KEYS,
  resolveTopicConfig,
  validateTopicConfigOverrides,
  describeTopicConfig,
  type TopicConfig,
  type TopicConfigKey,
  type TopicConfigOverrides,
  type TopicConfigEntry,
} from './topic-config.js';
export { validateTopicName } from './topic-name.js';
export type {
  MetadataView,
  MetadataCommands,
  MetadataChange,
  MetadataListener,
  BrokerNode,
  PartitionInfo,
  TopicInfo,
  ControllerInfo,
  CreateTopicCommand,
  AlterConfigOp,
} from './metadata-view.js';
export { computeHighWatermark, type HighWatermarkInputs } from './high-watermark.js';
export type { PartitionLogPort, LogFactory, OpenLogOptions, LogAppendInfo, LogReadResult, EpochEndOffset, TimestampLookup } from './partition-log.js';
export { MemoryPartitionLog, memoryLogFactory } from './memory-partition-log.js';
export { ApiError, InvalidArgumentError, AssertionError, type ErrorCodeName } from './errors.js';
