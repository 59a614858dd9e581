// ChaosCluster: N real `tributary server` processes wired through one FaultProxy, so that every
// link (node i → node j, and the runner's clients → node j) can be cut, slowed or reset.
//
// Wiring (see fault-proxy.ts): node i listens on its own port and advertises that real address;
// `--voters` name the real controller addresses. What routes traffic through the proxy is the
// environment: node i runs with `grpc_proxy=http://<proxy listener of viewer n<i>>`, and the runner
// process (its Producer/Consumer/Admin) with the listener of viewer `client`. grpc-js then opens
// every connection as an HTTP CONNECT to that listener, which knows the dialler (the listener) and
// the target (the CONNECT address, registered per node). The nemesis' own observer bypasses it.
//
// Topologies:
//   single     node 1 (broker+controller, runs alone), RF 1 — the pipeline smoke of today
//   combined3  nodes 1-3, broker+controller each, 3 voters; RF 3, min.insync.replicas 2
//   split3+3   controllers 1-3 (controller only), brokers 4-6 (broker only); RF 3, min ISR 2
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '@tributary/client';
import { DEFAULT_READY_TIMEOUT_MS, NodeProcess } from '../node-process.js';
import { freePort } from '../free-port.js';
import { FaultProxy } from './fault-proxy.js';
import { ClusterObserver } from './cluster-observer.js';
import { NetnsNetwork } from './netns-network.js';
import { CLIENT_ENDPOINT, endpointOf } from './endpoints.js';
import { diskFullUnsupportedReason, mountTmpfs, unmountTmpfs, DEFAULT_TMPFS_BYTES } from './disk-faults.js';
import type { SeededRandom } from './seeded-random.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const TOPOLOGIES = ['single', 'combined3', 'split3+3'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/**
 * How links are cut: `proxy` — every connection through the fault proxy (portable, no root; latency,
 * resets and blocks); `netns` — each node in its own network namespace, iptables drops packets
 * (root, Linux; blocks and loss, no latency). See netns-network.ts.
 */
export const NETWORKS = ['proxy', 'netns'] as const;
export type NetworkKind = (typeof NETWORKS)[number];

/** What the nemesis cuts links with: the proxy or the iptables chain. */
export interface LinkCutter {
  blockAll(links: readonly (readonly [string, string])[]): void;
  heal(): void;
}

export interface NodeSpec {
  readonly nodeId: number;
  readonly roles: readonly ('broker' | 'controller')[];
}

export interface TopologyPlan {
  readonly nodes: readonly NodeSpec[];
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number;
}

/** Pure: which nodes a topology has and the replication settings it runs with. */
export function planTopology(topology: Topology): TopologyPlan {
  switch (topology) {
    case 'single':
      return { nodes: [{ nodeId: 1, roles: ['broker', 'controller'] }], replicationFactor: 1, minInsyncReplicas: 1 };
    case 'combined3':
      return {
        nodes: [1, 2, 3].map((nodeId) => ({ nodeId, roles: ['broker', 'controller'] as const })),
        replicationFactor: 3, minInsyncReplicas: 2,
      };
    case 'split3+3':
      return {
        nodes: [
          ...[1, 2, 3].map((nodeId) => ({ nodeId, roles: ['controller'] as const })),
          ...[4, 5, 6].map((nodeId) => ({ nodeId, roles: ['broker'] as const })),
        ],
        replicationFactor: 3, minInsyncReplicas: 2,
      };
  }
}

/**
 * Node settings of every chaos run (before `configs`). With the defaults (broker.session.timeout.ms
 * 9 s, replica.lag.time.max.ms 30 s) one SIGSTOPped or killed node stalled *every* partition for the
 * whole fault: it sits in every ISR, and acks=all waits for the whole ISR until the controller fences
 * the node (session timeout) or the leader drops it (lag time). Shorter values let a run see what the
 * issue asks for — pauses (1–10 s) both shorter and longer than the session timeout, and ISR shrink
 * and expand under faults — instead of outages as long as each fault. Heartbeats stay at 500 ms.
 */
export const CHAOS_NODE_CONFIGS: Readonly<Record<string, string>> = {
  'broker.session.timeout.ms': '4000',
  'replica.lag.time.max.ms': '4000',
};

export interface ChaosClusterOptions {
  readonly topology: Topology;
  /** Run directory: nodes/<id>/data, logs/node-<id>.log. */
  readonly dir: string;
  readonly random: SeededRandom;
  /** Extra node configs for every node (`--set`). */
  readonly configs?: Readonly<Record<string, string>>;
  /** Put each node's data on its own tmpfs (root only) so disk-full faults can run. */
  readonly tmpfsData?: boolean;
  readonly tmpfsBytes?: number;
  readonly readyTimeoutMs?: number;
  /** Default `proxy`. */
  readonly network?: NetworkKind;
}

export interface ChaosNode {
  readonly spec: NodeSpec;
  readonly nodeId: number;
  readonly address: string;
  /** Directory the tmpfs is mounted on (holds data/ and the disk-full ballast). */
  readonly volumeDir: string;
  readonly dataDir: string;
  readonly process: NodeProcess;
  readonly tmpfs: boolean;
}

export class ChaosCluster {
  readonly proxy: FaultProxy;
  readonly observer: ClusterObserver;
  readonly plan: TopologyPlan;
  /** `http://host:port` of the clients' CONNECT listener; set as grpc_proxy in the runner. */
  readonly clientProxyUrl: string | undefined;
  /** Set when the run uses network namespaces (then the proxy carries no traffic). */
  readonly netns: NetnsNetwork | undefined;
  private stopped = false;

  private constructor(
    readonly options: ChaosClusterOptions,
    readonly nodes: readonly ChaosNode[],
    proxy: FaultProxy,
    clientProxyUrl: string | undefined,
    netns: NetnsNetwork | undefined,
  ) {
    this.proxy = proxy;
    this.netns = netns;
    this.plan = planTopology(options.topology);
    this.clientProxyUrl = clientProxyUrl;
    this.observer = new ClusterObserver(new Map(nodes.map((n) => [n.nodeId, n.address])));
  }

  /** Allocates ports, starts the proxy listeners and every node; resolves once all answer Metadata. */
  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const plan = planTopology(options.topology);
    const proxy = new FaultProxy({ random: options.random.fork() });
    const tmpfs = options.tmpfsData === true && diskFullUnsupportedReason() === undefined;
    const netns = options.network === 'netns' ? NetnsNetwork.create({ nodeIds: plan.nodes.map((n) => n.nodeId) }) : undefined;
    const addresses = new Map<number, string>();
    for (const spec of plan.nodes) {
      // In its own namespace a node has the whole port space: Kafka's port, on its own address.
      const address = netns === undefined ? `127.0.0.1:${await freePort()}` : `${netns.hostOf(spec.nodeId)}:9092`;
      addresses.set(spec.nodeId, address);
      proxy.registerEndpoint(endpointOf(spec.nodeId), address);
    }
    const clientProxy = netns === undefined ? await proxy.listenConnect(CLIENT_ENDPOINT) : undefined;
    const controllers = plan.nodes.filter((n) => n.roles.includes('controller'));
    const voters = plan.nodes.length === 1 ? undefined : controllers.map((n) => `${n.nodeId}@${addresses.get(n.nodeId)}`).join(',');
    mkdirSync(join(options.dir, 'logs'), { recursive: true });
    const nodes: ChaosNode[] = [];
    for (const spec of plan.nodes) {
      const viewerProxy = netns === undefined ? await proxy.listenConnect(endpointOf(spec.nodeId)) : undefined;
      const volumeDir = join(options.dir, 'nodes', String(spec.nodeId));
      if (tmpfs) mountTmpfs(volumeDir, options.tmpfsBytes ?? DEFAULT_TMPFS_BYTES);
      const dataDir = join(volumeDir, 'data');
      const address = addresses.get(spec.nodeId) as string;
      const process = new NodeProcess({
        nodeId: spec.nodeId, dataDir, listen: address, roles: spec.roles,
        ...(voters === undefined ? {} : { voters }),
        configs: {
          'default.replication.factor': String(plan.replicationFactor),
          'min.insync.replicas': String(plan.minInsyncReplicas),
          'unclean.leader.election.enable': 'false',
          ...CHAOS_NODE_CONFIGS,
          ...options.configs,
        },
        logFile: join(options.dir, 'logs', `node-${spec.nodeId}.log`),
        env: viewerProxy === undefined
          ? { grpc_proxy: '', https_proxy: '', http_proxy: '', no_grpc_proxy: '', no_proxy: '' }
          : { grpc_proxy: `http://${viewerProxy}`, https_proxy: '', http_proxy: '', no_grpc_proxy: '', no_proxy: '' },
        ...(netns === undefined ? {} : { commandPrefix: netns.commandPrefix(spec.nodeId) }),
      });
      nodes.push({ spec, nodeId: spec.nodeId, address, volumeDir, dataDir, process, tmpfs });
    }
    const cluster = new ChaosCluster(options, nodes, proxy, clientProxy === undefined ? undefined : `http://${clientProxy}`, netns);
    try {
      // Voters must come up together (a lone voter waits for a quorum), so start them concurrently.
      await Promise.all(nodes.map((n) => n.process.start(options.readyTimeoutMs)));
      if (nodes.length > 1) await cluster.waitForBrokersUnfenced(options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /**
   * Answering Metadata is not the same as having registered with the controller: topics created
   * before every broker is registered and unfenced get fewer replicas (or INVALID_REPLICATION_FACTOR).
   */
  async waitForBrokersUnfenced(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const admin = new Admin({ 'bootstrap.servers': this.nodes.map((n) => n.address).join(','), 'default.api.timeout.ms': 5_000, 'request.timeout.ms': 5_000 });
    try {
      for (;;) {
        const description = await admin.describeCluster().catch(() => undefined);
        const live = new Set(description?.nodes.filter((n) => !n.fenced).map((n) => n.id) ?? []);
        if (description !== undefined && description.controller.leaderId >= 0 && this.brokerIds.every((id) => live.has(id))) return;
        if (Date.now() > deadline) throw new Error(`brokers ${this.brokerIds.join(',')} not all registered and unfenced after ${timeoutMs} ms`);
        await sleep(200);
      }
    } finally {
      await admin.close();
    }
  }

  /** Where partitions are cut: the iptables chain under netns, else the proxy. */
  get links(): LinkCutter {
    return this.netns ?? this.proxy;
  }

  node(nodeId: number): ChaosNode {
    const node = this.nodes.find((n) => n.nodeId === nodeId);
    if (node === undefined) throw new Error(`no node ${nodeId} in this cluster`);
    return node;
  }

  get brokerIds(): number[] {
    return this.nodes.filter((n) => n.spec.roles.includes('broker')).map((n) => n.nodeId);
  }

  get controllerIds(): number[] {
    return this.nodes.filter((n) => n.spec.roles.includes('controller')).map((n) => n.nodeId);
  }

  get nodeIds(): number[] {
    return this.nodes.map((n) => n.nodeId);
  }

  /** Real broker addresses, comma-separated: clients dial them through the client proxy. */
  get bootstrapServers(): string {
    return this.brokerIds.map((id) => this.node(id).address).join(',');
  }

  /** Nodes whose process is not running (killed, crashed), to restart at the end. */
  get downNodeIds(): number[] {
    return this.nodes.filter((n) => n.process.state === 'stopped').map((n) => n.nodeId);
  }

  /** The partition leader of topic/partition as the first answering broker sees it; undefined if none. */
  async leaderOf(topic: string, partition: number): Promise<number | undefined> {
    const answer = await this.observer.firstAnswer(this.runningIds(this.brokerIds), (id) => this.observer.metadata(id));
    const leader = answer?.value.partitions.find((p) => p.topic === topic && p.partition === partition)?.leader;
    return leader === undefined || leader < 0 ? undefined : leader;
  }

  /** The coordinator of a group or transactional id as the first answering broker reports it; undefined if none. */
  async coordinatorOf(key: string, keyType: 'group' | 'transaction'): Promise<number | undefined> {
    const answer = await this.observer.firstAnswer(this.runningIds(this.brokerIds), (id) => this.observer.coordinator(id, key, keyType));
    return answer?.value;
  }

  /** The active controller as the first answering node reports it; undefined if none is known. */
  async activeController(): Promise<number | undefined> {
    const answer = await this.observer.firstAnswer(this.runningIds(this.nodeIds), (id) => this.observer.controllerId(id));
    return answer === undefined || answer.value < 0 ? undefined : answer.value;
  }

  runningIds(ids: readonly number[] = this.nodeIds): number[] {
    return ids.filter((id) => this.node(id).process.state === 'running');
  }

  /** Stops every node (SIGCONT first if paused), closes the proxy and unmounts tmpfs volumes. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.observer.close();
    await Promise.all(this.nodes.map((n) => n.process.stop()));
    await this.proxy.close();
    this.netns?.close();
    for (const n of this.nodes) if (n.tmpfs) unmountTmpfs(n.volumeDir);
  }
}
