// The controller quorum's I/O shell: the voter (Raft + active-controller duties) and its gRPC service.
export {
  QuorumController, parseQuorumControllerConfig,
  DEFAULT_QUORUM_CONTROLLER_CONFIG, DEFAULT_BROKER_SESSION_TIMEOUT_MS, DEFAULT_BROKER_LIVENESS_PROBE_AFTER_MS, DEFAULT_SNAPSHOT_INTERVAL_RECORDS,
  DEFAULT_LEADER_IMBALANCE_CHECK_INTERVAL_MS, DEFAULT_COMMAND_QUEUE_MAX, DEFAULT_WATCH_TAIL_ENTRIES, DEFAULT_WATCHERS_MAX,
  type QuorumControllerConfig, type QuorumControllerOptions, type ControllerPolicies, type BrokerSessions, type CommandDecision,
  type CommandResult, type ControllerStatus,
} from './quorum-controller.js';
export type { MetadataWatcher } from './metadata-watchers.js';
export type { MetadataMachine } from './metadata-machine.js';
export { fileGrpcQuorumIo, RAFT_DIR, type QuorumIo, type FileGrpcQuorumIoOptions } from './quorum-io.js';
export { probeListener, type ListenerProbeResult, type ListenerEndpoint } from './listener-probe.js';
export { QuorumError, NotControllerError, type QuorumErrorCode } from './quorum-errors.js';
export {
  isRefusal,
  type ControllerCommands, type CommandRefusal, type CommandContext, type BrokerRegistration, type BrokerHeartbeat,
  type HeartbeatAnswer, type RegistrationAnswer, type AlterPartitionCommand, type PartitionStateAnswer, type ProducerIdsAnswer,
} from './controller-commands.js';
export { addQuorumService, createQuorumHandlers, DEFAULT_WATCH_STREAM_QUEUE_EVENTS_MAX, type QuorumServiceOptions } from './quorum-service.js';
export { controllerCommands, controllerPolicies, CRYPTO_RANDOM, type ControllerCoreOptions } from './controller-core.js';
