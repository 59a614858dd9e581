// The chaos harness: fault proxy, multi-process cluster, nemesis, workloads, history,
// checker, figures and report. `npm run chaos` drives it; test/chaos holds the scenarios.
export { SeededRandom } from './seeded-random.js';
export { FaultProxy, OPEN_LINK, DEFAULT_HOLD_BYTES_MAX, splitHostPort, type LinkRules, type FaultProxyOptions, type LinkFilter } from './fault-proxy.js';
export {
  HistoryRecorder, parseHistory, readHistoryFile, parseValue, DEFAULT_FLUSH_LINES_MAX, DEFAULT_FLUSH_INTERVAL_MS,
  type HistoryOp, type OpType, type OpFunction, type MetadataObservation, type PartitionObservation, type FaultEvent, type FaultKind,
  type HistoryRecorderOptions,
} from './history.js';
export {
  checkHistory, canonicalMetadata, DEFAULT_VIOLATIONS_PER_KIND_MAX,
  type CheckResult, type CheckCounts, type CheckOptions, type Violation, type ViolationKind, type LostPosition,
} from './checker.js';
export { computeStats, percentile, type RunStats, type FaultWindow, type SecondStats, type RecoveryStat } from './stats.js';
export { renderReport, escapeHtml, type ReportInput } from './report-html.js';
export { ClusterObserver, toObservation, DEFAULT_OBSERVE_TIMEOUT_MS } from './cluster-observer.js';
export {
  ChaosCluster, planTopology, TOPOLOGIES, NETWORKS,
  type Topology, type NetworkKind, type LinkCutter, type TopologyPlan, type NodeSpec, type ChaosNode, type ChaosClusterOptions,
} from './chaos-cluster.js';
export { CLIENT_ENDPOINT, endpointOf } from './endpoints.js';
export { NetnsNetwork, netnsUnsupportedReason, type NetnsNetworkOptions } from './netns-network.js';
export {
  diskFullUnsupportedReason, mountTmpfs, unmountTmpfs, fillDisk, freeDisk, simulatePowerLoss,
  DEFAULT_TMPFS_BYTES, DEFAULT_POWER_LOSS_TAIL_BYTES_MAX, type TruncatedFile,
} from './disk-faults.js';
export {
  Nemesis, planSchedule, planPartition, NEMESIS_FAMILIES, PARTITION_SHAPES, DEFAULT_QUIET_MS, DEFAULT_FAULT_MS,
  type NemesisFamily, type NemesisTarget, type AppProcesses, type PartitionShape, type ScheduledFault, type ScheduleMode, type ScheduleOptions, type PartitionPlan, type ActiveFault,
} from './nemesis.js';
export {
  QueueWorkload, AdminWorkload, ProbeProducer, readAll, errorCode, DEFINITE_SEND_FAILURES, DEFAULT_QUEUE_WORKLOAD,
  type QueueWorkloadOptions, type AdminWorkloadOptions,
} from './workloads.js';
export { GroupsWorkload, DEFAULT_GROUPS_WORKLOAD, type GroupsWorkloadOptions } from './groups-workload.js';
export { runGroupMember, spanName, DEFINITE_COMMIT_FAILURES, type GroupMemberConfig, type EmittedOp } from './group-member.js';
export { checkGroups, isGroupSpan, type GroupViolation, type GroupViolationKind, type GroupCounts, type KnownOffsetsBetween } from './group-checker.js';
export { runChaos, parseChaosArgs, summarize, DEFAULT_CHAOS_OPTIONS, WORKLOADS, type ChaosOptions, type ChaosResult, type WorkloadName } from './runner.js';
export {
  encodeOutput, parseOutput, inputId, isReadCommitted, TXN_INPUT_TOPIC, TXN_OUTPUT_TOPIC, TXN_GROUP_ID,
  READER_TAIL_COMMITTED, READER_FINAL_COMMITTED, READER_FINAL_UNCOMMITTED, READER_FINAL_INPUT,
  type TxnOutput, type TxnIntent, type SentOutput, type TxnOpValue,
} from './txn-records.js';
export { checkTxn, hasTxnOps, EMPTY_TXN_COUNTS, type TxnViolation, type TxnViolationKind, type TxnCounts, type TxnCheckOptions } from './txn-checker.js';
export { TxnWorkload, DEFAULT_TXN_WORKLOAD, type TxnWorkloadOptions } from './txn-workload.js';
export {
  runTxnMember, outputPartitionOf, nextOffsets, firstOffsets, EXIT_FATAL, FATAL_TXN_ERRORS, FatalMemberError, type TxnMemberConfig,
} from './txn-member.js';
