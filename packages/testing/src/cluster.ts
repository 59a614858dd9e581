// An in-process Tributary cluster: N real nodes (startNode) in this process on loopback ports, for the
// project's tests and for users' own tests. Every node has its own data directory, gRPC server and
// controller/broker runtime; they talk over real gRPC exactly as separate processes would.
//
//   const cluster = await startCluster({ nodes: 3 });
//   const producer = new Producer({ 'bootstrap.servers': cluster.bootstrapServers });
//   await cluster.kill(cluster.activeController()!);   // crash: no controlled shutdown, data kept
//   await cluster.restart(id);                          // same port, same data directory
//   await cluster.stop();
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNodeConfig, startNode, type NodeRole, type StartNodeOptions, type TributaryNode } from '@tributary/broker';
import { setTimeout as sleep } from 'node:timers/promises';

/** Raft election timeout the harness uses unless told otherwise: fast failover in tests. */
export const DEFAULT_CLUSTER_ELECTION_TIMEOUT_MS = 300;
/** Longest startCluster/waitForReady waits for every broker to be registered and unfenced. */
export const DEFAULT_CLUSTER_READY_TIMEOUT_MS = 20_000;
/** Grace period for in-flight calls when a node is closed (kill or stop). */
export const DEFAULT_CLUSTER_SHUTDOWN_GRACE_MS = 500;
const POLL_INTERVAL_MS = 10;
const CLUSTER_NODES_MAX = 32;

/**
 * Test-speed defaults (overridable through `configs`): brokers heartbeat often and are fenced a few
 * seconds after they stop, so kill/restart scenarios finish quickly.
 */
export const FAST_CLUSTER_CONFIGS: Readonly<Record<string, string>> = {
  'broker.session.timeout.ms': '2000',
  'broker.heartbeat.interval.ms': '100',
  'controlled.shutdown.timeout.ms': '5000',
  'leader.imbalance.check.interval.seconds': '1',
};

/** `'combined'`: every node is broker + controller; otherwise dedicated controllers, then brokers. */
export type ClusterTopology = 'combined' | { readonly controllers: number; readonly brokers: number };

export interface StartClusterOptions {
  /** Combined-mode node count (1..32); ignored when `topology` names controllers and brokers. Default 3. */
  readonly nodes?: number;
  readonly topology?: ClusterTopology;
  /** Parent of the nodes' data directories (`<dataDir>/node-<id>`). Default: a fresh temp dir, removed by stop(). */
  readonly dataDir?: string;
  /** Extra node config (`--set` keys), applied to every node, over FAST_CLUSTER_CONFIGS. */
  readonly configs?: Readonly<Record<string, string>>;
  /** Per-node extra config, over `configs`. */
  readonly nodeConfigs?: Readonly<Record<number, Readonly<Record<string, string>>>>;
  readonly electionTimeoutMs?: number;
  readonly readyTimeoutMs?: number;
  /** Default `silent`; set `debug` to see what the nodes do. Ignored when `logger` is given. */
  readonly logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly logger?: StartNodeOptions['logger'];
  readonly host?: string;
}

export interface ClusterMember {
  readonly nodeId: number;
  /** `host:port` of the node's gRPC server (stable across restarts). */
  readonly address: string;
  readonly roles: readonly NodeRole[];
}

export interface InProcessCluster {
  /** Comma-separated broker addresses, for `bootstrap.servers`. */
  readonly bootstrapServers: string;
  readonly brokers: readonly ClusterMember[];
  readonly controllers: readonly ClusterMember[];
  /** Milliseconds from startCluster() to the first ready state. */
  readonly startupMs: number;
  /** The running node with this id (throws if it is not running). */
  node(nodeId: number): TributaryNode;
  isRunning(nodeId: number): boolean;
  /** Node id of the active controller as seen by the running controllers, if one is elected. */
  activeController(): number | undefined;
  /** Closes the node without a controlled shutdown (like a crash, but the data directory is kept). */
  kill(nodeId: number): Promise<void>;
  /** Starts a stopped node again on its port and data directory (stops it first with a controlled shutdown if running). */
  restart(nodeId: number): Promise<void>;
  /**
   * Resolves (with the milliseconds waited) once a controller is active and every running node sees every
   * running broker registered and unfenced; rejects after `timeoutMs`.
   */
  waitForReady(timeoutMs?: number): Promise<number>;
  /** Stops every node (no controlled shutdown) and removes the data directory if the harness created it. Idempotent. */
  stop(): Promise<void>;
}

interface MemberSpec extends ClusterMember {
  readonly dataDir: string;
}

/** Ports held open together so no two are the same, then released for the nodes to bind. */
export async function reservePorts(host: string, count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  })));
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('cluster: no port assigned');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function memberRoles(topology: ClusterTopology, nodes: number): NodeRole[][] {
  if (topology === 'combined') return Array.from({ length: nodes }, () => ['broker', 'controller']);
  return [
    ...Array.from({ length: topology.controllers }, (): NodeRole[] => ['controller']),
    ...Array.from({ length: topology.brokers }, (): NodeRole[] => ['broker']),
  ];
}

function validate(options: StartClusterOptions, roles: readonly NodeRole[][]): void {
  const controllers = roles.filter((r) => r.includes('controller')).length;
  const brokers = roles.filter((r) => r.includes('broker')).length;
  if (roles.length < 1 || roles.length > CLUSTER_NODES_MAX) throw new RangeError(`cluster: 1..${CLUSTER_NODES_MAX} nodes, got ${roles.length}`);
  if (controllers < 1 || brokers < 1) throw new RangeError(`cluster: needs at least one controller and one broker (got ${controllers} and ${brokers})`);
  const timeout = options.electionTimeoutMs;
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 50)) throw new RangeError(`cluster: electionTimeoutMs must be an integer >= 50, got ${timeout}`);
}

export async function startCluster(options: StartClusterOptions = {}): Promise<InProcessCluster> {
  const startedAt = Date.now();
  const host = options.host ?? '127.0.0.1';
  const roles = memberRoles(options.topology ?? 'combined', options.nodes ?? 3);
  validate(options, roles);
  const ownsDataDir = options.dataDir === undefined;
  const root = options.dataDir ?? await mkdtemp(join(tmpdir(), 'tributary-cluster-'));
  await mkdir(root, { recursive: true });
  const ports = await reservePorts(host, roles.length);
  const members: MemberSpec[] = roles.map((r, i) => ({
    nodeId: i + 1, address: `${host}:${ports[i]!}`, roles: r, dataDir: join(root, `node-${i + 1}`),
  }));
  const cluster = new Cluster({ options, root, ownsDataDir, members, startedAt });
  try {
    await Promise.all(members.map((m) => cluster.startMember(m.nodeId)));
    await cluster.waitForReady(options.readyTimeoutMs ?? DEFAULT_CLUSTER_READY_TIMEOUT_MS);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  cluster.startupMs = Date.now() - startedAt;
  return cluster;
}

class Cluster implements InProcessCluster {
  readonly bootstrapServers: string;
  readonly brokers: readonly ClusterMember[];
  readonly controllers: readonly ClusterMember[];
  startupMs = -1;
  private readonly running = new Map<number, TributaryNode>();
  /** Nodes being started or closed; a second kill/restart of the same node waits for the first. */
  private readonly pending = new Map<number, Promise<void>>();
  private readonly voters: string;
  private stopping: Promise<void> | undefined;

  constructor(private readonly args: {
    readonly options: StartClusterOptions;
    readonly root: string;
    readonly ownsDataDir: boolean;
    readonly members: readonly MemberSpec[];
    readonly startedAt: number;
  }) {
    const view = (m: MemberSpec): ClusterMember => ({ nodeId: m.nodeId, address: m.address, roles: m.roles });
    this.brokers = args.members.filter((m) => m.roles.includes('broker')).map(view);
    this.controllers = args.members.filter((m) => m.roles.includes('controller')).map(view);
    this.bootstrapServers = this.brokers.map((b) => b.address).join(',');
    this.voters = this.controllers.map((c) => `${c.nodeId}@${c.address}`).join(',');
  }

  node(nodeId: number): TributaryNode {
    const node = this.running.get(nodeId);
    if (node === undefined) throw new Error(`cluster: node ${nodeId} is not running`);
    return node;
  }

  isRunning(nodeId: number): boolean {
    return this.running.has(nodeId);
  }

  activeController(): number | undefined {
    for (const node of this.running.values()) {
      if (node.cluster?.controller?.isActive() === true) return node.nodeId;
    }
    return undefined;
  }

  async startMember(nodeId: number): Promise<void> {
    const member = this.member(nodeId);
    if (this.running.has(nodeId)) throw new Error(`cluster: node ${nodeId} is already running`);
    const { options } = this.args;
    const config = parseNodeConfig({
      flags: {
        'node.id': nodeId, listen: member.address, 'data.dir': member.dataDir,
        'process.roles': member.roles.join(','), 'controller.quorum.voters': this.voters,
      },
      set: {
        'log.level': options.logLevel ?? 'silent',
        'controller.quorum.election.timeout.ms': String(options.electionTimeoutMs ?? DEFAULT_CLUSTER_ELECTION_TIMEOUT_MS),
        ...FAST_CLUSTER_CONFIGS, ...options.configs, ...options.nodeConfigs?.[nodeId],
      },
    });
    const node = await startNode(config, {
      shutdownGraceMs: DEFAULT_CLUSTER_SHUTDOWN_GRACE_MS,
      ...(options.logger === undefined ? {} : { logger: options.logger.child({ nodeId }) }),
    });
    if (this.stopping !== undefined) {
      // stop() was called while this node was starting: do not leave it behind.
      await node.close({ controlledShutdown: false });
      return;
    }
    this.running.set(nodeId, node);
  }

  kill(nodeId: number): Promise<void> {
    return this.serialize(nodeId, async () => {
      const node = this.running.get(nodeId);
      this.member(nodeId);
      if (node === undefined) return;
      this.running.delete(nodeId);
      await node.close({ controlledShutdown: false });
    });
  }

  restart(nodeId: number): Promise<void> {
    return this.serialize(nodeId, async () => {
      const node = this.running.get(nodeId);
      if (node !== undefined) {
        this.running.delete(nodeId);
        await node.close({ controlledShutdown: true });
      }
      await this.startMember(nodeId);
    });
  }

  async waitForReady(timeoutMs = DEFAULT_CLUSTER_READY_TIMEOUT_MS): Promise<number> {
    const start = Date.now();
    for (;;) {
      const problem = this.notReadyReason();
      if (problem === undefined) return Date.now() - start;
      if (this.stopping !== undefined) throw new Error('cluster: stopped while waiting for ready');
      if (Date.now() - start > timeoutMs) throw new Error(`cluster: not ready after ${timeoutMs} ms: ${problem}`);
      await sleep(POLL_INTERVAL_MS);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.allSettled([...this.pending.values()]);
      const nodes = [...this.running.values()];
      this.running.clear();
      await Promise.allSettled(nodes.map((n) => n.close({ controlledShutdown: false })));
      if (this.args.ownsDataDir) await rm(this.args.root, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  /** Why the cluster is not ready yet (for the timeout message), or undefined when it is. */
  private notReadyReason(): string | undefined {
    if (this.activeController() === undefined) return 'no active controller';
    const runningBrokers = this.brokers.filter((b) => this.running.has(b.nodeId)).map((b) => b.nodeId);
    for (const node of this.running.values()) {
      // A restarted broker's image still shows its previous registration (unfenced) until its new one
      // commits: ready means its own lifecycle says it is running on the new registration.
      if (node.cluster !== undefined && node.config.processRoles.includes('broker') && node.cluster.lifecycleState !== 'running') {
        return `node ${node.nodeId} is ${node.cluster.lifecycleState}, not running`;
      }
      const seen = new Map(node.metadata.brokers().map((b) => [b.nodeId, b]));
      for (const id of runningBrokers) {
        const broker = seen.get(id);
        if (broker === undefined) return `node ${node.nodeId} does not see broker ${id} registered`;
        if (broker.fenced) return `node ${node.nodeId} sees broker ${id} fenced`;
      }
    }
    return undefined;
  }

  private member(nodeId: number): MemberSpec {
    const member = this.args.members.find((m) => m.nodeId === nodeId);
    if (member === undefined) throw new Error(`cluster: no node ${nodeId} (nodes ${this.args.members.map((m) => m.nodeId).join(', ')})`);
    return member;
  }

  private serialize(nodeId: number, work: () => Promise<void>): Promise<void> {
    if (this.stopping !== undefined) return Promise.reject(new Error('cluster: stopped'));
    const previous = this.pending.get(nodeId) ?? Promise.resolve();
    const next = previous.then(work);
    const settled = next.then(() => {}, () => {});
    this.pending.set(nodeId, settled);
    void settled.then(() => {
      if (this.pending.get(nodeId) === settled) this.pending.delete(nodeId);
    });
    return next;
  }
}
