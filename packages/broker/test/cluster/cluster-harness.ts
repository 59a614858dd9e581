// In-process cluster for the cluster-mode tests: N combined-mode nodes on loopback ports chosen before
// start (the voters list needs them), temp data dirs, real gRPC between them.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { AdminClient, QuorumClient } from '@tributary/protocol';
import { parseNodeConfig, startNode, type TributaryNode } from '../../src/index.js';
import { silentLogger } from '../helpers.js';

export const CLUSTER_ID = 'cluster-test';

export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export const FAST: Record<string, string> = {
  'controller.quorum.election.timeout.ms': '300',
  'broker.session.timeout.ms': '1500',
  'broker.heartbeat.interval.ms': '100',
  'leader.imbalance.check.interval.seconds': '1',
  'controlled.shutdown.timeout.ms': '5000',
  'request.timeout.ms': '10000',
};

export class TestCluster {
  readonly nodes = new Map<number, TributaryNode>();
  private readonly admins = new Map<number, AdminClient>();

  private constructor(readonly root: string, readonly ports: ReadonlyMap<number, number>, readonly set: Record<string, string>) {}

  static async start(size: number, set: Record<string, string> = {}): Promise<TestCluster> {
    const root = await mkdtemp(join(tmpdir(), 'tributary-cluster-'));
    const ports = await freePorts(size);
    const cluster = new TestCluster(root, new Map(ports.map((p, i) => [i + 1, p])), { ...FAST, ...set });
    await Promise.all([...cluster.ports.keys()].map((id) => cluster.startNode(id)));
    return cluster;
  }

  get voters(): string {
    return [...this.ports].map(([id, port]) => `${id}@127.0.0.1:${port}`).join(',');
  }

  address(id: number): string {
    return `127.0.0.1:${this.ports.get(id)!}`;
  }

  async startNode(id: number, extra: Record<string, string> = {}): Promise<TributaryNode> {
    const config = parseNodeConfig({
      flags: { 'node.id': id, listen: this.address(id), 'data.dir': join(this.root, `node-${id}`), 'controller.quorum.voters': this.voters, 'cluster.id': CLUSTER_ID },
      set: { ...this.set, ...extra },
    });
    const node = await startNode(config, { logger: silentLogger.child({ nodeId: id }), shutdownGraceMs: 500 });
    this.nodes.set(id, node);
    return node;
  }

  node(id: number): TributaryNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`node ${id} is not running`);
    return n;
  }

  admin(id: number): AdminClient {
    let a = this.admins.get(id);
    if (a === undefined) this.admins.set(id, (a = new AdminClient(this.address(id), grpc.credentials.createInsecure())));
    return a;
  }

  quorumClient(id: number): QuorumClient {
    return new QuorumClient(this.address(id), grpc.credentials.createInsecure());
  }

  /** The node whose controller voter is active, if any. */
  activeController(): TributaryNode | undefined {
    return [...this.nodes.values()].find((n) => n.cluster?.controller?.isActive() === true);
  }

  async stopNode(id: number, options: { controlledShutdown: boolean } = { controlledShutdown: true }): Promise<void> {
    const node = this.node(id);
    this.nodes.delete(id);
    this.admins.get(id)?.close();
    this.admins.delete(id);
    await node.close(options);
  }

  async close(): Promise<void> {
    for (const a of this.admins.values()) a.close();
    this.admins.clear();
    await Promise.all([...this.nodes.values()].map((n) => n.close({ controlledShutdown: false })));
    this.nodes.clear();
    await rm(this.root, { recursive: true, force: true });
  }
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<number> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}
