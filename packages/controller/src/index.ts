// @tributary/controller: the metadata quorum. Two entries, each a curated list:
// - '@tributary/controller/metadata' (metadata/index.ts): what every broker needs to follow the metadata
//   log: records, their codec, the immutable image, applyRecords, snapshots and diffs;
// - this one: what a node that hosts a controller voter needs (the quorum controller, its gRPC service,
//   the command core), and the controller's topic rules the broker checks at its edge (names, placement previews).
// Tests reach everything else through './internal'.
export {
  QuorumController, parseQuorumControllerConfig, RAFT_DIR, fileGrpcQuorumIo, type QuorumIo, type FileGrpcQuorumIoOptions,
  DEFAULT_QUORUM_CONTROLLER_CONFIG, DEFAULT_BROKER_SESSION_TIMEOUT_MS, DEFAULT_SNAPSHOT_INTERVAL_RECORDS,
  DEFAULT_LEADER_IMBALANCE_CHECK_INTERVAL_MS, DEFAULT_COMMAND_QUEUE_MAX, DEFAULT_WATCH_TAIL_ENTRIES, DEFAULT_WATCHERS_MAX,
  type QuorumControllerConfig, type QuorumControllerOptions, type ControllerPolicies, type ControllerStatus, type MetadataMachine,
  QuorumError, NotControllerError, type QuorumErrorCode,
  addQuorumService, DEFAULT_WATCH_STREAM_QUEUE_EVENTS_MAX, type QuorumServiceOptions,
  controllerCommands, controllerPolicies, CRYPTO_RANDOM, type ControllerCoreOptions,
} from './quorum/index.js';
export { metadataStateMachine, type MetadataStateMachine } from './metadata/index.js';
export {
  type ControllerConfig, type TopicConfigValidator, DEFAULT_CONTROLLER_CONFIG, parseControllerConfig, basicTopicConfigValidator,
  INTERNAL_TOPIC_NAMES, TOPIC_NAME_CHARS_MAX, placeReplicas, topicCollisionKey, topicNameProblem,
} from './control/index.js';
