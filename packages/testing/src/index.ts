export { waitFor, WAIT_FOR_POLL_MS } from './wait-for.js';
export { freePort } from './free-port.js';
export { NodeProcess, TRIBUTARY_BIN, DEFAULT_READY_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_MS } from './node-process.js';
export type { NodeProcessOptions, NodeProcessState } from './node-process.js';
export {
  startCluster, DEFAULT_CLUSTER_ELECTION_TIMEOUT_MS, DEFAULT_CLUSTER_READY_TIMEOUT_MS, DEFAULT_CLUSTER_SHUTDOWN_GRACE_MS, FAST_CLUSTER_CONFIGS,
} from './cluster.js';
export type { StartClusterOptions, InProcessCluster, ClusterMember, ClusterTopology } from './cluster.js';
export * from './chaos/index.js';
export { startProcessCluster } from './process-cluster.js';
export type { StartProcessClusterOptions, ProcessCluster } from './process-cluster.js';
