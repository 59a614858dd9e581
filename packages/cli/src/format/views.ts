// The documented shapes of `topic describe`, `cluster info` and `cluster health` (scripts rely on
// their JSON keys; documented in docs/cli.md), and their text renderings.
import { jsonLine, renderFacts, renderTable, type OutputFormat } from './table.js';

export interface PartitionView {
  readonly partition: number;
  /** Broker id of the leader; -1 when the partition has no leader (offline). */
  readonly leader: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leaderEpoch: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  /** Replicas whose log failed on their broker (absent: none reported). */
  readonly offlineReplicas?: readonly number[];
}

export interface TopicView {
  readonly name: string;
  readonly partitions: readonly PartitionView[];
  readonly configs: Readonly<Record<string, string>>;
}

export interface NodeView {
  readonly id: number;
  readonly roles: readonly string[];
  readonly address: string;
  readonly fenced: boolean;
}

export interface ClusterView {
  readonly clusterId: string;
  readonly controller: { readonly leaderId: number; readonly term: number };
  readonly nodes: readonly NodeView[];
  /** Controller voters the active controller cannot reach (absent from older servers). */
  readonly unreachableControllerVoters?: readonly number[];
}

/** Exactly the contract keys, in contract order (extra fields on the inputs are dropped). */
export function topicJson(topic: TopicView): unknown {
  return {
    name: topic.name,
    partitions: topic.partitions.map((p) => ({
      partition: p.partition,
      leader: p.leader,
      replicas: [...p.replicas],
      isr: [...p.isr],
      leaderEpoch: p.leaderEpoch,
      logStartOffset: p.logStartOffset,
      highWatermark: p.highWatermark,
    })),
    configs: { ...topic.configs },
  };
}

export function renderTopic(topic: TopicView, format: OutputFormat): string {
  if (format === 'json') return jsonLine(topicJson(topic));
  const partitions = renderTable(
    ['partition', 'leader', 'epoch', 'replicas', 'isr', 'log-start-offset', 'high-watermark'],
    topic.partitions.map((p) => [
      p.partition,
      p.leader < 0 ? 'none' : p.leader,
      p.leaderEpoch,
      `[${p.replicas.join(',')}]`,
      `[${p.isr.join(',')}]`,
      p.logStartOffset,
      p.highWatermark,
    ]),
  );
  const configNames = Object.keys(topic.configs).sort();
  const configs =
    configNames.length === 0 ? '' : `\nCONFIGS\n${renderTable(['key', 'value'], configNames.map((name) => [name, topic.configs[name]]))}`;
  return `${renderFacts([
    ['NAME', topic.name],
    ['PARTITIONS', topic.partitions.length],
    ['REPLICAS', topic.partitions[0]?.replicas.length ?? 0],
  ])}\nPARTITIONS\n${partitions}${configs}`;
}

export interface TopicSummary {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly internal: boolean;
}

export function renderTopicList(topics: readonly TopicSummary[], format: OutputFormat): string {
  const sorted = [...topics].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (format === 'json') return jsonLine(sorted.map((t) => ({ ...t })));
  return renderTable(
    ['name', 'partitions', 'replicas'],
    sorted.map((t) => [t.internal ? `${t.name} (internal)` : t.name, t.partitions, t.replicationFactor]),
  );
}

export function clusterJson(cluster: ClusterView): unknown {
  return {
    clusterId: cluster.clusterId,
    controller: { leaderId: cluster.controller.leaderId, term: cluster.controller.term },
    nodes: [...cluster.nodes]
      .sort((a, b) => a.id - b.id)
      .map((n) => ({ id: n.id, roles: [...n.roles], address: n.address, fenced: n.fenced })),
  };
}

export function renderCluster(cluster: ClusterView, format: OutputFormat): string {
  if (format === 'json') return jsonLine(clusterJson(cluster));
  const facts = renderFacts([
    ['CLUSTER', cluster.clusterId],
    ['CONTROLLER', cluster.controller.leaderId < 0 ? 'none' : cluster.controller.leaderId],
    ['TERM', cluster.controller.term],
  ]);
  const nodes = renderTable(
    ['id', 'roles', 'address', 'status'],
    [...cluster.nodes]
      .sort((a, b) => a.id - b.id)
      .map((n) => [
        n.id === cluster.controller.leaderId ? `${n.id}*` : n.id,
        n.roles.join(','),
        n.address,
        n.fenced ? 'fenced' : 'active',
      ]),
  );
  return `${facts}\nNODES\n${nodes}`;
}

export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export interface ClusterHealth {
  readonly healthy: boolean;
  readonly unhealthyReasons: readonly string[];
  readonly controllerId: number;
  readonly nodes: readonly number[];
  /** Registered, unfenced brokers: where new replicas can be placed. */
  readonly availableBrokers: readonly number[];
  readonly fencedBrokers: readonly number[];
  /** Controller voters the active controller has not heard from (down, or their Raft driver stopped). */
  readonly unreachableControllerVoters: readonly number[];
  /** Partitions with no leader, or whose leader is fenced. */
  readonly offlinePartitions: readonly PartitionRef[];
  /** Partitions whose ISR is smaller than the replica set. */
  readonly underReplicatedPartitions: readonly PartitionRef[];
  /** Replicas whose log failed on their broker (the broker itself may be up and serving the rest). */
  readonly offlineReplicas: readonly (PartitionRef & { readonly nodeId: number })[];
}

/** Health is a pure function of what the cluster reports; `cluster health` only fetches and prints. */
export function computeClusterHealth(cluster: ClusterView, topics: readonly TopicView[]): ClusterHealth {
  const fenced = new Set(cluster.nodes.filter((n) => n.fenced).map((n) => n.id));
  const offlinePartitions: PartitionRef[] = [];
  const underReplicatedPartitions: PartitionRef[] = [];
  const offlineReplicas: (PartitionRef & { nodeId: number })[] = [];
  for (const topic of topics) {
    for (const p of topic.partitions) {
      const ref = { topic: topic.name, partition: p.partition };
      for (const nodeId of p.offlineReplicas ?? []) offlineReplicas.push({ ...ref, nodeId });
      if (p.leader < 0 || fenced.has(p.leader)) offlinePartitions.push(ref);
      if (p.isr.length < p.replicas.length) underReplicatedPartitions.push(ref);
    }
  }
  const byTopicPartition = (a: PartitionRef, b: PartitionRef): number =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
  offlinePartitions.sort(byTopicPartition);
  underReplicatedPartitions.sort(byTopicPartition);
  offlineReplicas.sort((a, b) => byTopicPartition(a, b) || a.nodeId - b.nodeId);
  // Until a broker has registered and been unfenced nothing can be placed on it: CreateTopics would
  // fail with "replication factor 1 is larger than the 0 available brokers".
  const availableBrokers = cluster.nodes.filter((n) => n.roles.includes('broker') && !n.fenced).map((n) => n.id).sort((a, b) => a - b);
  const unreachableControllerVoters = [...(cluster.unreachableControllerVoters ?? [])].sort((a, b) => a - b);
  const unhealthyReasons: string[] = [];
  if (cluster.controller.leaderId < 0) unhealthyReasons.push('no_active_controller');
  if (unreachableControllerVoters.length > 0) unhealthyReasons.push('unreachable_controller_voters');
  if (availableBrokers.length === 0) unhealthyReasons.push('no_available_brokers');
  if (fenced.size > 0) unhealthyReasons.push('fenced_brokers');
  if (offlinePartitions.length > 0) unhealthyReasons.push('offline_partitions');
  if (underReplicatedPartitions.length > 0) unhealthyReasons.push('under_replicated_partitions');
  if (offlineReplicas.length > 0) unhealthyReasons.push('offline_replicas');
  return {
    healthy: unhealthyReasons.length === 0,
    unhealthyReasons,
    controllerId: cluster.controller.leaderId,
    nodes: cluster.nodes.map((n) => n.id).sort((a, b) => a - b),
    availableBrokers,
    fencedBrokers: [...fenced].sort((a, b) => a - b),
    unreachableControllerVoters,
    offlinePartitions,
    underReplicatedPartitions,
    offlineReplicas,
  };
}

export function renderHealth(health: ClusterHealth, format: OutputFormat): string {
  if (format === 'json') return jsonLine(health);
  const refs = (list: readonly PartitionRef[]): string => (list.length === 0 ? '[]' : `[${list.map((r) => `${r.topic}/${r.partition}`).join(', ')}]`);
  return renderFacts([
    ['Healthy:', health.healthy],
    ['Unhealthy reasons:', `[${health.unhealthyReasons.join(', ')}]`],
    ['Controller ID:', health.controllerId < 0 ? 'none' : health.controllerId],
    ['All nodes:', `[${health.nodes.join(', ')}]`],
    ['Available brokers:', `[${health.availableBrokers.join(', ')}]`],
    ['Fenced brokers:', `[${health.fencedBrokers.join(', ')}]`],
    ['Unreachable controller voters:', `[${health.unreachableControllerVoters.join(', ')}]`],
    ['Offline partitions:', refs(health.offlinePartitions)],
    ['Under-replicated partitions:', refs(health.underReplicatedPartitions)],
    ['Offline replicas:', health.offlineReplicas.length === 0 ? '[]' : `[${health.offlineReplicas.map((r) => `${r.topic}/${r.partition}@${r.nodeId}`).join(', ')}]`],
  ]);
}
