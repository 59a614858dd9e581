// The controller's decisions as pure commands: (image, request, ctx) -> { records, response }.
export {
  type ControllerResult, type ControllerError, type ControllerErrorCode, controllerError, wireErrorCode, isControllerError,
} from './controller-result.js';
export {
  type Random, type ControllerConfig, type ControllerContext, type TopicConfigValidator,
  DEFAULT_CONTROLLER_CONFIG, DEFAULT_NUM_PARTITIONS, DEFAULT_REPLICATION_FACTOR, DEFAULT_PRODUCER_ID_BLOCK_SIZE,
  DEFAULT_PARTITIONS_PER_TOPIC_MAX, DEFAULT_CONFIG_VALUE_CHARS_MAX, basicTopicConfigValidator, parseControllerConfig,
} from './controller-config.js';
export { placeReplicas, type PlacementBroker, type PlacementRequest } from './replica-placement.js';
export {
  electPartition, partitionChangeTo, planPartitionChange, type ElectionInput, type ElectionKind, type PartitionTarget, type ReplicaLogEnd,
} from './partition-election.js';
export { ReplicaLogReports, type ReplicaLogReport, type ReplicaLogEndLookup } from './replica-log-reports.js';
export {
  reelect, changesForLeaving, changesForJoining, changesForRecovery, changesForOfflineReplicas, clearOfflineReplicas, markUncleanRestart,
  uncleanElectionEnabled, UNCLEAN_LEADER_ELECTION_ENABLE, type ReelectOptions, type ReplicaRef,
} from './cluster-elections.js';
export {
  registerBroker, brokerHeartbeat, controlledShutdown, fenceBrokers, fenceStaleBrokers, expiredBrokers, requireCurrentBroker,
  BROKER_ROLES,
  type RegisterBrokerRequest, type RegisterBrokerResponse, type BrokerHeartbeatRequest, type BrokerHeartbeatResponse,
  type ControlledShutdownRequest, type ControlledShutdownResponse, type FenceBrokersResponse, type SessionState,
} from './broker-lifecycle.js';
export {
  createTopics, deleteTopics, createPartitions, topicNameProblem, topicCollisionKey, newTopicId,
  INTERNAL_TOPIC_NAMES, TOPIC_NAME_CHARS_MAX,
  type CreatableTopic, type CreateTopicsRequest, type CreateTopicsResponse, type CreateTopicResult,
  type DeleteTopicsRequest, type DeleteTopicsResponse, type DeleteTopicResult,
  type CreatePartitionsRequest, type CreatePartitionsResponse, type CreatePartitionsResult,
} from './topic-commands.js';
export {
  alterConfigs, type AlterConfigOp, type AlterConfigsResource, type AlterConfigsRequest, type AlterConfigsResponse, type AlterConfigsResult,
} from './config-commands.js';
export {
  alterPartition, electLeaders, rebalanceLeaders, allocateProducerIds,
  type AlterPartitionRequest, type AlterPartitionResponse, type AlterPartitionState,
  type ElectLeadersRequest, type ElectLeadersResponse, type ElectLeaderResult,
  type AllocateProducerIdsRequest, type AllocateProducerIdsResponse,
} from './partition-commands.js';
